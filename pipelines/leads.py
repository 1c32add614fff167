"""Lead bookkeeping used by the pipelines: the brief (one per lead), stages with an audit trail, handoff, rates."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlmodel import Session, select

from db.crypto import contact_hash_key
from db.models import Brief, Client, Conversation, Event, Lead, utcnow
from db.rate_table import RateTable
from db.repo_pricing import load_rate_table
from pipelines.reply import add_outbox
from voronka.vocabulary import FUNNEL, NO_PRODUCT, Stage, stage_rank

CONTACT_SLOTS = ("name", "phone", "email")


def brief_for(session: Session, lead_id: int) -> Brief:
    brief = session.exec(select(Brief).where(Brief.lead_id == lead_id)).first()
    if brief is None:
        brief = Brief(lead_id=lead_id, data={}, version=1)
        session.add(brief)
        session.flush()
    return brief


def contact_hash(kind: str, value: str, key: bytes | None = None) -> str:
    """A keyed hash of a normalised phone or e-mail, for matching one client across channels.

    The key is ``CONTACT_HASH_KEY`` from settings (via the process key ring, ``db.crypto.contact_hash_key``)."""
    normalised = value.strip().lower()
    return hmac.new(key or contact_hash_key(), f"{kind}:{normalised}".encode(), hashlib.sha256).hexdigest()


def save_brief(session: Session, lead: Lead, brief: Brief, data: dict[str, Any]) -> None:
    brief.data = dict(data)
    brief.version += 1
    brief.updated_at = utcnow()
    session.add(brief)
    product = data.get("product")
    if product and product != lead.product:
        lead.product = str(product)
    client = session.get(Client, lead.client_id)
    if client is not None:
        changed = False
        for slot in CONTACT_SLOTS:
            value = data.get(slot)
            if value and getattr(client, slot) != value:
                setattr(client, slot, str(value))
                changed = True
        if changed:
            client.phone_hash = contact_hash("phone", client.phone) if client.phone else None
            client.email_hash = contact_hash("email", client.email) if client.email else None
            session.add(client)


def merge_form(brief: dict[str, Any], form: dict[str, Any]) -> dict[str, Any]:
    """A site form's fields into the brief (the form's values win: the client just typed them)."""
    merged = dict(brief)
    for slot in ("name", "phone", "email", "product", "company"):
        value = form.get(slot)
        if value:
            merged[slot] = value
    return merged


def scrub_contacts(payload: dict[str, Any]) -> dict[str, Any]:
    """A copy of an inbound payload without the personal contacts (kept encrypted in the brief and client)."""
    return {k: ("[в карточке клиента]" if k in CONTACT_SLOTS and v else v) for k, v in payload.items()}


def record_event(session: Session, *, lead_id: int | None, kind: str, channel: str | None,
                 data: dict[str, Any]) -> None:
    session.add(Event(lead_id=lead_id, kind=kind, channel=channel, data=data))


def advance_stage(session: Session, lead: Lead, stage: str, *, channel: str | None) -> bool:
    """Move the lead forward (never back); the change goes to the audit trail / funnel analytics."""
    if stage not in FUNNEL or stage_rank(stage) <= stage_rank(lead.stage):
        return False
    record_event(session, lead_id=lead.id, kind="stage_changed", channel=channel,
                 data={"from": lead.stage, "to": stage, "source": lead.source_tag})
    lead.stage = stage
    session.add(lead)
    return True


def sync_crm_when_qualified(session: Session, lead: Lead, *, channel: str | None) -> bool:
    """The first time a lead has a product and a phone or e-mail, it goes to the CRM (once: the outbox key)."""
    client = session.get(Client, lead.client_id)
    if lead.id is None or lead.product in ("", NO_PRODUCT) or client is None or not (client.phone or client.email):
        return False
    if stage_rank(lead.stage) < stage_rank(Stage.QUALIFIED):
        advance_stage(session, lead, Stage.QUALIFIED, channel=channel)
    return add_outbox(session, key=f"crm:qualified:{lead.id}", kind="action", lead_id=lead.id, channel=channel,
                      payload={"action": "crm_sync", "data": {"event": "qualified"}}) is not None


def hand_off(session: Session, lead: Lead, conversation: Conversation, *, reason: str, summary: str,
             message_id: int) -> None:
    """The bot stops answering on every channel; managers are notified once."""
    lead.manager_hold = True
    lead.handoff_reason = reason
    session.add(lead)
    record_event(session, lead_id=lead.id, kind="handoff", channel=conversation.channel,
                 data={"reason": reason, "summary": summary})
    add_outbox(session, key=f"notify:handoff:{message_id}", kind="notify", lead_id=lead.id,
               conversation_id=conversation.id, channel=conversation.channel,
               payload={"event": "handoff", "reason": reason, "summary": summary})


def give_back(session: Session, lead: Lead, *, by: str) -> None:
    """A manager returns the conversation to the bot."""
    lead.manager_hold = False
    lead.handoff_reason = None
    session.add(lead)
    record_event(session, lead_id=lead.id, kind="handback", channel=None, data={"by": by})


def rates(session: Session) -> RateTable:
    return load_rate_table(session)
