"""Personal data requests (152-FZ / GDPR style): export everything about a lead's client, erase it, and the retention
purge that erases leads inactive for longer than ``DATA_RETENTION_DAYS``.

Erasing keeps the funnel: leads (stage, channel, product, dates), events without free text, payments (amounts,
statuses), bookings (times) and message rows (direction, role, time) stay for analytics; names, phones, e-mails,
message texts and payloads, brief contact fields, conversation state, document files, outbox payloads and the Redis
conversation memory are removed. Channel identities are replaced by an anonymous marker, so the same person writing
again starts as a new client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis as redis_lib
import sqlalchemy as sa
from loguru import logger
from sqlmodel import Session, col, select

from db.models import (
    Booking,
    Brief,
    Client,
    ClientIdentity,
    Conversation,
    Document,
    Event,
    Lead,
    Message,
    Outbox,
    Payment,
    Quote,
    utcnow,
)
from pipelines.document.storage import absolute_path
from pipelines.memory import memory_key
from voronka.errors import NotFound

PERSONAL_BRIEF_KEYS = frozenset({"name", "phone", "email", "company", "client_inn", "client_kpp", "client_address",
                                 "contact", "telegram", "comment", "notes", "raw", "summary", "tasks", "pains"})
FREE_TEXT_EVENT_KEYS = frozenset({"summary", "text", "reason_text", "comment", "message", "answer", "name", "phone",
                                  "email"})
ERASED_EVENT = "privacy_erased"


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _row(obj: Any) -> dict[str, Any]:
    data = obj.model_dump()
    return {k: (_iso(v) if hasattr(v, "isoformat") else (str(v) if hasattr(v, "as_tuple") else v))
            for k, v in data.items()}


def _rowcount(result: Any) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


def _lead_and_client(session: Session, lead_id: int) -> tuple[Lead, Client]:
    lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound(f"Лид {lead_id} не найден")
    client = session.get(Client, lead.client_id)
    if client is None:
        raise NotFound(f"Клиент лида {lead_id} не найден")
    return lead, client


def export_lead(session: Session, lead_id: int) -> dict[str, Any]:
    """Everything stored about the client of ``lead_id`` (all their leads), decrypted, as JSON-ready data."""
    _, client = _lead_and_client(session, lead_id)
    leads = session.exec(select(Lead).where(Lead.client_id == client.id).order_by(col(Lead.id))).all()
    out_leads = []
    for lead in leads:
        lid = lead.id

        def rows(model: Any, lid: int | None = lid) -> list[dict[str, Any]]:
            return [_row(r) for r in session.exec(select(model).where(model.lead_id == lid).order_by(col(model.id)))]

        conversations = rows(Conversation)
        out_leads.append({
            "lead": _row(lead), "brief": rows(Brief), "quotes": rows(Quote), "documents": rows(Document),
            "payments": rows(Payment), "bookings": rows(Booking), "events": rows(Event),
            "conversations": conversations,
            "messages": [{"id": m.id, "conversation_id": m.conversation_id, "channel": m.channel,
                          "direction": m.direction, "role": m.role, "kind": m.kind, "text": m.text,
                          "payload": m.payload, "created_at": _iso(m.created_at)}
                         for m in session.exec(select(Message).where(Message.lead_id == lid)
                                               .order_by(col(Message.created_at), col(Message.id)))],
        })
    identities = session.exec(select(ClientIdentity).where(ClientIdentity.client_id == client.id)).all()
    return {
        "exported_at": utcnow().isoformat(),
        "client": {"id": client.id, "name": client.name, "phone": client.phone, "email": client.email,
                   "created_at": _iso(client.created_at),
                   "identities": [{"channel": i.channel, "external_id": i.external_id,
                                   "created_at": _iso(i.created_at)} for i in identities]},
        "leads": out_leads,
    }


@dataclass
class EraseReport:
    client_id: int
    leads: list[int] = field(default_factory=list)
    messages: int = 0
    files_removed: int = 0
    outbox: int = 0
    events_scrubbed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"client_id": self.client_id, "leads": self.leads, "messages": self.messages,
                "files_removed": self.files_removed, "outbox": self.outbox, "events_scrubbed": self.events_scrubbed}


def erase_lead(session: Session, lead_id: int, *, documents_dir: Path, redis: redis_lib.Redis | None = None,
               reason: str = "request") -> EraseReport:
    """Erase the personal data of the client of ``lead_id`` (all their leads). The caller commits.

    Document files are deleted right away (a rolled-back transaction keeps the rows pointing at missing files —
    the safe side for an erasure request)."""
    _, client = _lead_and_client(session, lead_id)
    assert client.id is not None
    report = EraseReport(client_id=client.id)
    leads = session.exec(select(Lead).where(Lead.client_id == client.id).with_for_update()).all()
    lead_ids = [lead.id for lead in leads if lead.id is not None]
    report.leads = lead_ids

    client.name = client.phone = client.email = None
    client.phone_hash = client.email_hash = None
    session.add(client)
    for identity in session.exec(select(ClientIdentity).where(ClientIdentity.client_id == client.id)):
        identity.external_id = f"erased:{identity.id}"
        session.add(identity)

    msgs = Message.__table__  # type: ignore[attr-defined]
    report.messages = _rowcount(session.execute(
        sa.update(msgs).where(msgs.c.lead_id.in_(lead_ids)).values(text="", payload={}, external_id=None)))
    convs = Conversation.__table__  # type: ignore[attr-defined]
    session.execute(sa.update(convs).where(convs.c.lead_id.in_(lead_ids)).values(state={}))
    for conv in session.exec(select(Conversation).where(col(Conversation.lead_id).in_(lead_ids))):
        conv.external_chat_id = f"erased:{conv.id}"
        session.add(conv)
    outbox = Outbox.__table__  # type: ignore[attr-defined]
    report.outbox = _rowcount(session.execute(
        sa.update(outbox).where(outbox.c.lead_id.in_(lead_ids)).values(payload={}, last_error=None)))
    for brief in session.exec(select(Brief).where(col(Brief.lead_id).in_(lead_ids))):
        brief.data = {k: v for k, v in brief.data.items() if k not in PERSONAL_BRIEF_KEYS}
        session.add(brief)
    for event in session.exec(select(Event).where(col(Event.lead_id).in_(lead_ids))):
        scrubbed = {k: v for k, v in event.data.items() if k not in FREE_TEXT_EVENT_KEYS}
        if scrubbed != event.data:
            event.data = scrubbed
            session.add(event)
            report.events_scrubbed += 1
    for document in session.exec(select(Document).where(col(Document.lead_id).in_(lead_ids))):
        path = absolute_path(documents_dir, document)
        if path.exists():
            path.unlink()
            report.files_removed += 1
    for lead in leads:
        lead.listing_id = None  # the CRM id stays: the CRM has its own erasure
        session.add(lead)
        session.add(Event(lead_id=lead.id, kind=ERASED_EVENT, channel=None, data={"reason": reason}))
    session.flush()
    if redis is not None:
        for lid in lead_ids:
            redis.delete(memory_key(lid))
    logger.info("personal data erased: client {} leads {} ({})", client.id, lead_ids, reason)
    return report


def expired_leads(session: Session, retention_days: int, *, limit: int = 200) -> list[int]:
    """Leads whose last activity (lead update or last message) is older than the retention period and that were not
    erased yet."""
    cutoff = utcnow() - timedelta(days=retention_days)
    rows = session.execute(sa.text("""
        SELECT l.id FROM leads l
        WHERE GREATEST(l.updated_at, COALESCE((SELECT max(m.created_at) FROM messages m WHERE m.lead_id = l.id),
                                              l.updated_at)) < :cutoff
          AND NOT EXISTS (SELECT 1 FROM events e WHERE e.lead_id = l.id AND e.kind = :erased)
        ORDER BY l.id LIMIT :limit"""), {"cutoff": cutoff, "erased": ERASED_EVENT, "limit": limit})
    return [int(r.id) for r in rows]


def purge_expired(engine: sa.Engine, retention_days: int, *, documents_dir: Path, redis: redis_lib.Redis | None = None,
                  batch: int = 200) -> int:
    """Erase every lead past retention, one client per transaction. Returns how many leads were erased."""
    erased = 0
    done: set[int] = set()
    while True:
        with Session(engine) as session:
            candidates = [i for i in expired_leads(session, retention_days, limit=batch) if i not in done]
        if not candidates:
            return erased
        for lead_id in candidates:
            with Session(engine) as session:
                report = erase_lead(session, lead_id, documents_dir=documents_dir, redis=redis, reason="retention")
                session.commit()
            done.update(report.leads)
            erased += len(report.leads)
