"""Each document kind for each product becomes a PDF whose Russian text can be read back (pdftotext)."""

from __future__ import annotations

import subprocess
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from db.rate_table import DEFAULT_RATES
from pipelines.document import render as render_module
from pipelines.document.context import build_context
from pipelines.document.render import DocumentTooLarge, render_html, render_pdf
from pipelines.price.engine import calculate, validate_brief
from voronka.settings import Settings

PRODUCTS = {"ai_manager": "ИИ-Менеджер", "ai_lawyer": "ИИ-Юрист", "ai_analyst": "ИИ-Аналитик"}
TITLES = {"proposal": "Коммерческое предложение", "contract": "Договор", "invoice": "Счёт на оплату"}
NUMBERS = {"proposal": "КП-2026-0001", "contract": "ДГ-2026-0001", "invoice": "СЧ-2026-0001"}
COMPANY = "ООО «Ромашка»"


def _settings(**overrides: Any) -> Settings:
    return Settings(_env_file=None, ENVIRONMENT="test", **overrides)  # type: ignore[call-arg]


def _ctx(kind: str, product: str = "ai_manager", *, package: str = "optimum",
         settings: Settings | None = None, **brief: Any) -> tuple[dict[str, Any], Decimal, str]:
    data = {"product": product, "users": 25, "integrations": 3, "hosting": "cloud", "sla": "standard",
            "deadline": "standard", **brief}
    quote = calculate(validate_brief(data), DEFAULT_RATES)
    pkg = next(p for p in quote.packages if p.code == package)
    ctx = build_context(kind, brief=data, quote=quote, package=package, client_name="Анна Смирнова",
                        company=COMPANY, number=NUMBERS[kind], version=1, settings=settings or _settings(),
                        payment_url=None, issued_at=date(2026, 5, 12))
    return ctx, pkg.price, pkg.name


def pdf_text(data: bytes) -> str:
    out = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True)
    return " ".join(out.stdout.decode("utf-8").split())  # one line, single spaces


def digits(price: Decimal) -> str:
    return f"{int(price):,}".replace(",", " ")  # «180 000»


@pytest.mark.parametrize("product", list(PRODUCTS))
@pytest.mark.parametrize("kind", list(TITLES))
def test_each_kind_renders_readable_russian(kind: str, product: str) -> None:
    ctx, price, package_name = _ctx(kind, product)
    pdf = render_pdf(kind, ctx)
    assert pdf.engine == "weasyprint"
    assert pdf.data.startswith(b"%PDF")
    assert pdf.pages >= 1
    text = pdf_text(pdf.data)
    assert TITLES[kind] in text
    assert COMPANY in text
    assert package_name in text
    assert digits(price) in text
    assert NUMBERS[kind] in text
    assert PRODUCTS[product] in text


def test_proposal_shows_all_three_packages_and_details() -> None:
    ctx, _price, _name = _ctx("proposal")
    text = pdf_text(render_pdf("proposal", ctx).data)
    for pkg in ctx["packages"]:
        assert pkg["name"] in text
        assert digits(pkg["price"]) in text
    assert "Выбранный пакет" in text
    assert "действительно до 26 мая 2026 г." in text
    assert "Из чего складывается цена" in text
    assert "Сроки и этапы" in text
    assert "ИНН 7700000000" in text


def test_proposal_of_two_pages_has_page_numbers() -> None:
    ctx, _price, _name = _ctx("proposal")
    pdf = render_pdf("proposal", ctx)
    text = pdf_text(pdf.data)
    assert f"стр. 1 из {pdf.pages}" in text


def test_contract_has_the_required_sections() -> None:
    ctx, price, _name = _ctx("contract")
    text = pdf_text(render_pdf("contract", ctx).data)
    for words in ("Предмет договора", "Стоимость и порядок расчётов", "Этапы и сроки", "(SLA)",
                  "Конфиденциальность", "152-ФЗ", "Реквизиты и подписи сторон", "Исполнитель", "Заказчик"):
        assert words in text
    assert f"{digits(price)},00 руб." in text


def test_invoice_total_in_words_and_vat_line() -> None:
    ctx, price, _name = _ctx("invoice", "ai_lawyer", package="start", users=5, integrations=0)
    assert price == Decimal(120000)
    text = pdf_text(render_pdf("invoice", ctx).data)
    assert "Сто двадцать тысяч рублей 00 копеек" in text
    assert "Без НДС (УСН)" in text
    assert "120 000,00" in text

    ctx, price, _name = _ctx("invoice", "ai_lawyer", package="start", users=5, integrations=0,
                             settings=_settings(VAT_PERCENT=20))
    text = pdf_text(render_pdf("invoice", ctx).data)
    assert "В том числе НДС 20 %: 20 000,00" in text


@pytest.mark.parametrize("kind", list(TITLES))
def test_xhtml2pdf_fallback_is_readable_russian_too(kind: str) -> None:
    ctx, price, package_name = _ctx(kind)
    pdf = render_pdf(kind, ctx, engine="xhtml2pdf")
    assert pdf.engine == "xhtml2pdf"
    text = pdf_text(pdf.data)
    assert TITLES[kind] in text
    assert COMPANY in text
    assert package_name in text
    assert digits(price) in text


def test_weasyprint_failure_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(html: str) -> tuple[bytes, int]:
        raise OSError("cairo is gone")

    monkeypatch.setattr(render_module, "_weasyprint", broken)
    ctx, _price, _name = _ctx("invoice")
    pdf = render_pdf("invoice", ctx)
    assert pdf.engine == "xhtml2pdf"
    assert "Счёт на оплату" in pdf_text(pdf.data)


def test_too_large_document_is_a_typed_error() -> None:
    ctx, _price, _name = _ctx("proposal")
    with pytest.raises(DocumentTooLarge) as info:
        render_pdf("proposal", ctx, max_bytes=1024)
    assert "слишком большим" in info.value.message
    assert info.value.status == 413
    ctx["max_pdf_bytes"] = 2048  # the settings' limit travels in the context
    with pytest.raises(DocumentTooLarge):
        render_pdf("proposal", ctx)


def test_html_preview_highlights_the_chosen_package() -> None:
    ctx, _price, _name = _ctx("proposal", package="start")
    html = render_html("proposal", ctx)
    assert html.startswith("<!DOCTYPE html>")
    assert 'class="pkg-head chosen"' in html
    chosen_at = html.index('class="pkg-head chosen"')
    assert html.index("Старт", chosen_at) < html.index("Оптимум", chosen_at)


def test_client_text_is_escaped() -> None:
    ctx, _price, _name = _ctx("proposal")
    ctx["client"]["company"] = "<script>alert(1)</script>"
    html = render_html("proposal", ctx)
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
