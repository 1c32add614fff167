"""The document action: КП, contract or invoice for the lead's brief and chosen package, as a PDF on its channel.

Telegram gets the file itself; the site and Avito get a signed, expiring download link (Avito cannot send files).
A retry finds the document already issued for the same brief (no duplicate); a changed brief issues a new version.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from db.models import Brief, Conversation, Lead, Quote
from pipelines.document.context import brief_hash, build_context
from pipelines.document.links import download_url
from pipelines.document.render import render_pdf
from pipelines.document.storage import issue_document
from pipelines.integrate.dealkit import contact_context
from pipelines.integrate.emails import queue_both
from pipelines.leads import rates
from pipelines.price.engine import quote as compute_quote
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime
from voronka.vocabulary import RECOMMENDED_PACKAGE

KIND_NAMES = {"proposal": "Коммерческое предложение", "contract": "Договор", "invoice": "Счёт на оплату"}
KIND_SHORT = {"proposal": "КП", "contract": "договор", "invoice": "счёт"}


def handle_document(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                    data: dict[str, Any]) -> list[OutgoingReply]:
    assert lead.id is not None
    kind = str(data.get("kind") or "proposal")
    package = str(data.get("package") or lead.chosen_package or RECOMMENDED_PACKAGE)
    brief_row = session.exec(select(Brief).where(Brief.lead_id == lead.id)).one()
    brief = dict(brief_row.data)
    pricing_brief = {k: brief[k] for k in ("product", "users", "integrations", "hosting", "sla", "deadline")
                     if brief.get(k) is not None}
    result = compute_quote(pricing_brief, rates(session))
    settings = deps.settings
    digest = brief_hash(pricing_brief | {"name": brief.get("name"), "company": brief.get("company")}, package, kind)

    def render(number: str, version: int) -> bytes:
        context = build_context(kind, brief=brief, quote=result, package=package, client_name=brief.get("name"),
                                company=brief.get("company"), number=number, version=version, settings=settings,
                                payment_url=data.get("payment_url"), issued_at=date.today())
        return render_pdf(kind, context, max_bytes=settings.max_pdf_bytes).data

    document, created = issue_document(session, lead_id=lead.id, kind=kind, brief_hash=digest,
                                       documents_dir=settings.documents_dir, render=render)
    assert document.id is not None
    latest = session.exec(select(Quote).where(Quote.lead_id == lead.id).order_by(col(Quote.id).desc())).first()
    if latest is None:
        session.add(Quote(lead_id=lead.id, brief_version=brief_row.version, data=result.as_cli_dict()))
    title = f"{KIND_NAMES.get(kind, 'Документ')} {document.number}" + (
        f" (версия {document.version})" if document.version > 1 else "")
    url = download_url(settings.public_url, document.id, settings.link_key, settings.LINK_TTL_HOURS)
    attachment = {"kind": "pdf", "name": f"{title}.pdf", "url": url, "document_id": document.id}
    channel = conversation.channel if conversation else lead.channel
    if created and (settings.smtp_configured or settings.MANAGER_EMAILS):  # the PDF by e-mail too (client if known)
        queue_both(session, lead, key=f"email:document:{document.id}", event="document_issued",
                   ctx={**contact_context(session, lead), "document_title": title, "channel": channel},
                   documents=[document.id])
    if channel == "avito":
        text = (f"Готово! {title}: {url}\nСсылка действует {settings.LINK_TTL_HOURS} ч. "
                "Если появятся вопросы по документу — пишите, я на связи.")
    else:
        text = f"Готово! Отправляю {KIND_SHORT.get(kind, 'документ')}: {title}."
    return [OutgoingReply(text=text, attachments=[attachment])]
