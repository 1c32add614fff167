"""Document templates in the admin: their titles and an HTML preview of each, filled from a sample brief with the
current price list (the same context and renderer as a real document)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session

from db.repo_pricing import load_rate_table
from pipelines.document.context import KINDS, build_context
from pipelines.document.render import render_html
from pipelines.document.storage import format_number
from pipelines.price.engine import calculate, validate_brief
from voronka.errors import NotFound, ValidationError
from voronka.settings import Settings
from voronka.vocabulary import PACKAGES

SAMPLE_BRIEF: dict[str, Any] = {"product": "ai_lawyer", "users": 25, "integrations": 2, "hosting": "cloud",
                                "sla": "standard", "deadline": "standard", "name": "Анна Смирнова",
                                "company": "ООО «Пример»", "phone": "+7 900 000-00-00", "email": "anna@example.ru"}


def template_preview(session: Session, kind: str, product: str, package: str, settings: Settings) -> str:
    if kind not in KINDS:
        raise NotFound("Нет такого шаблона")
    if package not in PACKAGES:
        raise ValidationError("package: start, optimum или enterprise", field="package")
    raw = {**SAMPLE_BRIEF, "product": product}
    brief = validate_brief(raw)
    quote = calculate(brief, load_rate_table(session))
    today = date.today()
    context = build_context(kind, brief={**raw, **brief.as_dict()}, quote=quote, package=package,
                            client_name=raw["name"], company=raw["company"], number=format_number(kind, today.year, 1),
                            version=1, settings=settings, payment_url=None, issued_at=today)
    return render_html(kind, context)


# On screen the document is shown as a sheet of paper; printing (WeasyPrint) never sees this style.
PREVIEW_STYLE = ("<style>@media screen { html { background: #e9ecf2; } body { box-sizing: border-box; "
                 "max-width: 210mm; margin: 24px auto !important; padding: 16mm 14mm !important; background: #fff; "
                 "box-shadow: 0 6px 24px rgba(16, 24, 40, .12); } }</style>")
TEMPLATE_TITLES = {"proposal": "Коммерческое предложение", "contract": "Договор", "invoice": "Счёт"}




def preview_page(session: Session, kind: str, product: str, package: str, settings: Settings) -> str:
    """The preview as the admin shows it: the document on a sheet of paper."""
    html = template_preview(session, kind, product, package, settings)
    return html.replace("</head>", PREVIEW_STYLE + "</head>", 1)
