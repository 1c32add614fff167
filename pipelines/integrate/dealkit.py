"""Small helpers shared by the deals handlers (CRM, bookings, payments, e-mail, reminders, NPS).

Handlers run in worker threads with a synchronous session; the external clients are async, so each call runs on
the process's event loop (``deps.bridge.run``). Nothing here commits: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from loguru import logger
from sqlmodel import Session, col, select

from db.models import Brief, Client, Conversation, Lead
from pipelines.leads import rates
from pipelines.price.engine import quote as compute_quote
from pipelines.reply import OutgoingReply, add_outbox, write_replies
from pipelines.runtime import Runtime
from voronka.vocabulary import NO_PRODUCT, PRICING_SLOTS, package_title, product_title

# An action's handler: ``(deps, session, lead, conversation, data) -> replies`` (see ``integrate.dispatch``).
ActionHandler = Callable[[Runtime, Session, Lead, Conversation | None, dict[str, Any]], list[OutgoingReply]]
PRICED_BRIEF_KEYS = ("product", *PRICING_SLOTS)  # the part of a brief the price depends on


def now_utc() -> datetime:
    return datetime.now(UTC)


def client_of(session: Session, lead: Lead) -> Client | None:
    return session.get(Client, lead.client_id)


def brief_data(session: Session, lead: Lead) -> dict[str, Any]:
    row = session.exec(select(Brief).where(Brief.lead_id == lead.id)).first()
    return dict(row.data) if row is not None else {}


def contact_context(session: Session, lead: Lead) -> dict[str, Any]:
    """Name / phone / e-mail / product for letters and CRM (brief first, then the client record)."""
    brief = brief_data(session, lead)
    client = client_of(session, lead)
    name = brief.get("name") or (client.name if client else None)
    return {
        "client_name": str(name or "Клиент без имени"),
        "phone": brief.get("phone") or (client.phone if client else None),
        "email": brief.get("email") or (client.email if client else None),
        "product": product_title(brief.get("product") or lead.product),
        "company": brief.get("company"),
    }


def package_name(code: str | None) -> str:
    return package_title(code, str(code or ""))


def latest_conversation(session: Session, lead_id: int) -> Conversation | None:
    """The lead's most recently active conversation: where messages for the client go."""
    return session.exec(select(Conversation).where(Conversation.lead_id == lead_id)
                        .order_by(col(Conversation.updated_at).desc(), col(Conversation.id).desc())).first()


def send_to_client(session: Session, lead: Lead, *, key: str, replies: list[OutgoingReply],
                   conversation: Conversation | None = None) -> list[int]:
    """Write replies to the client's channel as outgoing messages + outbox rows (once per ``key``)."""
    if lead.blocked or lead.id is None:
        return []
    conversation = conversation or latest_conversation(session, lead.id)
    if conversation is None or conversation.id is None:
        logger.bind(lead_id=lead.id).warning("no conversation to write to")
        return []
    return write_replies(session, key_prefix=key, lead_id=lead.id, conversation_id=conversation.id,
                         channel=conversation.channel, replies=replies)


def queue_action(session: Session, lead: Lead, *, key: str, action: str, data: dict[str, Any],
                 conversation_id: int | None = None, channel: str | None = None) -> int | None:
    """An "action" outbox row (performed by ``integrate.action``); ``conversation_id`` None = no client reply."""
    return add_outbox(session, key=key, kind="action", lead_id=lead.id, conversation_id=conversation_id,
                      channel=channel or lead.channel, payload={"action": action, "data": data})


def notify_managers(session: Session, lead: Lead | None, *, key: str, event: str, summary: str,
                    **extra: Any) -> int | None:
    """A "notify" outbox row for the managers (Telegram chat / e-mail, sent by the notify sender)."""
    payload = {"event": event, "summary": summary, "text": summary, **extra}  # "text": the chat notice
    if lead is not None:
        payload.setdefault("lead_id", lead.id)
    return add_outbox(session, key=key, kind="notify", lead_id=lead.id if lead else None,
                      channel=lead.channel if lead else None, payload=payload)


def notify_not_configured(session: Session, lead: Lead | None, *, service: str, message: str) -> None:
    """Tell the managers (once a day per service) that an optional integration has no settings."""
    day = now_utc().strftime("%Y%m%d")
    notify_managers(session, lead, key=f"notify:not-configured:{service}:{day}", event="not_configured",
                    summary=message, service=service)
    logger.info("{} is not configured: {}", service, message)


def package_price(session: Session, lead: Lead, package: str) -> Decimal:
    """The package's full price for the lead's current brief (the same engine the invoice PDF uses)."""
    brief = brief_data(session, lead)
    pricing_brief = {k: brief[k] for k in PRICED_BRIEF_KEYS if brief.get(k) is not None}
    if not pricing_brief.get("product") and lead.product not in ("", NO_PRODUCT):
        pricing_brief["product"] = lead.product
    result = compute_quote(pricing_brief, rates(session))
    for item in result.packages:
        if item.code == package:
            return Decimal(item.price)
    raise ValueError(f"unknown package {package!r}")
