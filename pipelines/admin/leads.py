"""Leads and conversations for managers: list with filters, one lead with everything about it, take over, give back,
write as manager (an outgoing message on the conversation's channel, delivered through the outbox)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on, insert
from sqlmodel import Session, col, func, select

from db.models import (
    Booking,
    Brief,
    Client,
    ClientIdentity,
    Conversation,
    Document,
    Event,
    FailedJob,
    Lead,
    Message,
    Outbox,
    Payment,
    Quote,
    utcnow,
)
from pipelines.admin.paging import PageRequest
from pipelines.leads import contact_hash, give_back, record_event
from voronka.errors import NotFound, ValidationError
from voronka.vocabulary import CHANNELS, NO_PRODUCT, PRODUCTS, STAGE_LABELS

# The admin UI's labels of channels and products (stages: voronka.vocabulary.STAGE_LABELS).
CHANNEL_LABELS: dict[str, str] = {channel: channel.info.label for channel in CHANNELS}
PRODUCT_LABELS: dict[str, str] = {**{product: product.info.title for product in PRODUCTS}, NO_PRODUCT: "—"}
EXCERPT = 140


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _excerpt(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= EXCERPT else text[: EXCERPT - 1] + "…"


@dataclass(frozen=True)
class LeadFilter:
    stage: str | None = None
    channel: str | None = None
    hold: bool | None = None
    search: str | None = None  # a lead id, a phone or an e-mail (matched by keyed hash: names are encrypted)


def _phone_digits(value: str) -> str | None:
    digits = "".join(ch for ch in value if ch.isdigit())
    if len(digits) == 11 and digits[0] in "78":
        return "+7" + digits[1:]
    if len(digits) == 10:
        return "+7" + digits
    return None


def _filtered(statement: Any, flt: LeadFilter) -> Any:
    if flt.stage:
        statement = statement.where(Lead.stage == flt.stage)
    if flt.channel:
        statement = statement.where(sa.or_(col(Lead.channel) == flt.channel, sa.exists().where(
            col(Conversation.lead_id) == col(Lead.id), col(Conversation.channel) == flt.channel)))
    if flt.hold is not None:
        statement = statement.where(Lead.manager_hold == flt.hold)
    if flt.search:
        term = flt.search.strip()
        conditions: list[Any] = []
        if term.isascii() and term.isdigit() and len(term) < 10:
            conditions.append(col(Lead.id) == int(term))
        if "@" in term:
            conditions.append(col(Client.email_hash) == contact_hash("email", term))
        phone = _phone_digits(term)
        if phone:
            conditions.append(col(Client.phone_hash) == contact_hash("phone", phone))
        statement = statement.where(sa.or_(*conditions) if conditions else sa.false())
    return statement


def list_leads(session: Session, flt: LeadFilter, page: PageRequest) -> dict[str, Any]:
    base = select(Lead, Client).join(Client, col(Client.id) == Lead.client_id)
    total = session.exec(_filtered(select(func.count()).select_from(Lead).join(
        Client, col(Client.id) == Lead.client_id), flt)).one()
    rows = session.exec(_filtered(base, flt).order_by(col(Lead.updated_at).desc(), col(Lead.id).desc())
                        .offset(page.offset).limit(page.per_page)).all()
    lead_ids = [lead.id for lead, _ in rows]
    last: dict[int, Message] = {}
    channels: dict[int, list[str]] = {}
    if lead_ids:
        for message in session.exec(select(Message).where(col(Message.lead_id).in_(lead_ids))
                                    .ext(distinct_on(col(Message.lead_id)))
                                    .order_by(col(Message.lead_id), col(Message.id).desc())):
            last[message.lead_id] = message
        for conv in session.exec(select(Conversation).where(col(Conversation.lead_id).in_(lead_ids))):
            channels.setdefault(conv.lead_id, []).append(conv.channel)
    items = []
    for lead, client in rows:
        assert lead.id is not None
        latest = last.get(lead.id)
        items.append({
            "id": lead.id, "client_name": client.name, "channel": lead.channel,
            "channels": sorted(set(channels.get(lead.id, [lead.channel]))), "source_tag": lead.source_tag,
            "product": lead.product, "stage": lead.stage, "stage_label": STAGE_LABELS.get(lead.stage, lead.stage),
            "manager_hold": lead.manager_hold, "handoff_reason": lead.handoff_reason, "blocked": lead.blocked,
            "created_at": _iso(lead.created_at), "updated_at": _iso(lead.updated_at),
            "last_message": None if latest is None else {
                "text": _excerpt(latest.text), "role": "client" if latest.direction == "in" else latest.role,
                "created_at": _iso(latest.created_at)},
        })
    return page.result(items, int(total))


def _message(m: Message) -> dict[str, Any]:
    payload = m.payload or {}
    text = m.text
    if m.direction == "in" and m.kind == "callback":
        text = str(payload.get("label") or payload.get("callback") or text)
    return {"id": m.id, "conversation_id": m.conversation_id, "channel": m.channel, "direction": m.direction,
            "role": "client" if m.direction == "in" else m.role, "kind": m.kind, "text": text,
            "buttons": payload.get("buttons", []) if m.direction == "out" else [],
            "attachments": payload.get("attachments", []) if m.direction == "out" else [],
            "by": payload.get("by"), "created_at": _iso(m.created_at)}


def _lead(session: Session, lead_id: int, *, lock: bool = False) -> Lead:
    if lock:
        lead = session.exec(select(Lead).where(Lead.id == lead_id).with_for_update()
                            .execution_options(populate_existing=True)).first()
    else:
        lead = session.get(Lead, lead_id)
    if lead is None:
        raise NotFound("Лид не найден")
    return lead


def lead_detail(session: Session, lead_id: int) -> dict[str, Any]:
    lead = _lead(session, lead_id)
    client = session.get(Client, lead.client_id)
    brief = session.exec(select(Brief).where(Brief.lead_id == lead_id)).first()
    quotes = session.exec(select(Quote).where(Quote.lead_id == lead_id).order_by(col(Quote.id))).all()
    documents = session.exec(select(Document).where(Document.lead_id == lead_id).order_by(col(Document.id))).all()
    payments = session.exec(select(Payment).where(Payment.lead_id == lead_id).order_by(col(Payment.id))).all()
    bookings = session.exec(select(Booking).where(Booking.lead_id == lead_id).order_by(col(Booking.id))).all()
    events = session.exec(select(Event).where(Event.lead_id == lead_id).order_by(col(Event.id))).all()
    conversations = session.exec(select(Conversation).where(Conversation.lead_id == lead_id)
                                 .order_by(col(Conversation.id))).all()
    messages = session.exec(select(Message).where(Message.lead_id == lead_id)
                            .order_by(col(Message.created_at), col(Message.id))).all()
    failed = session.exec(select(FailedJob).where(FailedJob.lead_id == lead_id).order_by(col(FailedJob.id))).all()
    pending = session.exec(select(func.count()).select_from(Outbox).where(
        Outbox.lead_id == lead_id, Outbox.status.in_(("pending", "sending")))).one()  # type: ignore[attr-defined]
    identities = []
    if client is not None:
        identities = [{"channel": i.channel, "external_id": i.external_id} for i in session.exec(
            select(ClientIdentity).where(ClientIdentity.client_id == client.id))]
    return {
        "lead": {"id": lead.id, "channel": lead.channel, "source_tag": lead.source_tag, "product": lead.product,
                 "product_label": PRODUCT_LABELS.get(lead.product, lead.product), "stage": lead.stage,
                 "stage_label": STAGE_LABELS.get(lead.stage, lead.stage), "chosen_package": lead.chosen_package,
                 "manager_hold": lead.manager_hold, "handoff_reason": lead.handoff_reason, "blocked": lead.blocked,
                 "quotes_done": lead.quotes_done, "amo_lead_id": lead.amo_lead_id, "listing_id": lead.listing_id,
                 "created_at": _iso(lead.created_at), "updated_at": _iso(lead.updated_at)},
        "client": None if client is None else {"id": client.id, "name": client.name, "phone": client.phone,
                                               "email": client.email, "identities": identities},
        "brief": None if brief is None else {"data": brief.data, "version": brief.version,
                                             "updated_at": _iso(brief.updated_at)},
        "quotes": [{"id": q.id, "brief_version": q.brief_version, "data": q.data, "created_at": _iso(q.created_at)}
                   for q in quotes],
        "documents": [{"id": d.id, "kind": d.kind, "number": d.number, "version": d.version, "size": d.size,
                       "created_at": _iso(d.created_at), "url": f"/api/v1/admin/documents/{d.id}/file"}
                      for d in documents],
        "payments": [_payment(p) for p in payments],
        "bookings": [_booking(b) for b in bookings],
        "events": [{"id": e.id, "kind": e.kind, "channel": e.channel, "data": e.data, "created_at": _iso(e.created_at)}
                   for e in events],
        "conversations": [{"id": c.id, "channel": c.channel, "external_chat_id": c.external_chat_id,
                           "created_at": _iso(c.created_at)} for c in conversations],
        "messages": [_message(m) for m in messages],
        "failed_jobs": [_failed(f) for f in failed],
        "outbox_pending": int(pending),
    }


def _payment(p: Payment) -> dict[str, Any]:
    return {"id": p.id, "lead_id": p.lead_id, "package": p.package, "amount": f"{p.amount:.2f}",
            "attempt": p.attempt, "status": p.status, "provider_id": p.provider_id,
            "created_at": _iso(p.created_at), "paid_at": _iso(p.paid_at), "expires_at": _iso(p.expires_at)}


def _booking(b: Booking) -> dict[str, Any]:
    return {"id": b.id, "lead_id": b.lead_id, "starts_at": _iso(b.starts_at), "ends_at": _iso(b.ends_at),
            "status": b.status, "calendar_event_id": b.calendar_event_id, "created_at": _iso(b.created_at)}


def _failed(f: FailedJob) -> dict[str, Any]:
    return {"id": f.id, "actor": f.actor, "queue": f.queue, "message_id": f.message_id, "args": f.args,
            "lead_id": f.lead_id, "error": f.error, "created_at": _iso(f.created_at)}


def take_over(session: Session, lead_id: int, *, by: str) -> bool:
    """The bot goes silent on every channel; the manager answers. False when already held."""
    lead = _lead(session, lead_id, lock=True)
    if lead.manager_hold:
        return False
    lead.manager_hold = True
    lead.updated_at = utcnow()
    session.add(lead)
    record_event(session, lead_id=lead_id, kind="takeover", channel=None, data={"by": by})
    return True


def give_back_to_bot(session: Session, lead_id: int, *, by: str) -> bool:
    lead = _lead(session, lead_id, lock=True)
    if not lead.manager_hold:
        return False
    give_back(session, lead, by=by)
    lead.updated_at = utcnow()
    session.add(lead)
    return True


@dataclass(frozen=True)
class ManagerMessage:
    message_id: int
    outbox_id: int | None  # None when this submission was already recorded (nothing new to deliver)
    conversation_id: int
    channel: str
    duplicate: bool


def write_as_manager(session: Session, lead_id: int, text: str, *, by: str, max_length: int,
                     conversation_id: int | None = None, idempotency_key: str | None = None) -> ManagerMessage:
    """Store the manager's message and its outbox row (delivered by ``outbox.deliver``). Writing takes the
    conversation over (the bot stays silent). The same ``idempotency_key`` twice stores one message."""
    text = (text or "").strip()
    if not text:
        raise ValidationError("Сообщение не может быть пустым", field="text")
    if len(text) > max_length:
        raise ValidationError(f"Сообщение длиннее {max_length} символов", field="text")
    lead = _lead(session, lead_id, lock=True)
    key = f"manager:{lead_id}:{idempotency_key}" if idempotency_key else None
    if key is not None:
        existing = session.exec(select(Outbox).where(Outbox.key == key)).first()
        if existing is not None and existing.message_id is not None:
            return ManagerMessage(existing.message_id, None, existing.conversation_id or 0,
                                  existing.channel or "", duplicate=True)
    conversation: Conversation | None
    if conversation_id is not None:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.lead_id != lead_id:
            raise ValidationError("Разговор не относится к этому лиду", field="conversation_id")
    else:
        latest_in = session.exec(select(Message).where(Message.lead_id == lead_id, Message.direction == "in")
                                 .order_by(col(Message.id).desc()).limit(1)).first()
        conv_id = latest_in.conversation_id if latest_in is not None else None
        conversation = session.get(Conversation, conv_id) if conv_id is not None else session.exec(
            select(Conversation).where(Conversation.lead_id == lead_id).order_by(col(Conversation.id).desc())).first()
        if conversation is None:
            raise ValidationError("У лида нет разговора, писать некуда", field="conversation_id")
    assert conversation.id is not None
    if conversation.channel not in CHANNELS:
        raise ValidationError("Неизвестный канал разговора", field="conversation_id")
    take_over(session, lead_id, by=by)
    message = Message(conversation_id=conversation.id, lead_id=lead_id, channel=conversation.channel,
                      direction="out", role="manager", kind="text", text=text,
                      payload={"buttons": [], "attachments": [], "by": by})
    session.add(message)
    session.flush()
    assert message.id is not None
    outbox_id = session.execute(
        insert(Outbox.__table__).values(  # type: ignore[attr-defined]
            key=key or f"manager:{lead_id}:m{message.id}", lead_id=lead_id, conversation_id=conversation.id,
            message_id=message.id, channel=conversation.channel, kind="message", payload={"by": by},
            status="pending", attempts=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.__table__.c.id)  # type: ignore[attr-defined]
    ).scalar()
    record_event(session, lead_id=lead_id, kind="manager_message", channel=conversation.channel,
                 data={"by": by, "message_id": message.id})
    lead.updated_at = utcnow()
    session.add(lead)
    return ManagerMessage(message.id, int(outbox_id) if outbox_id is not None else None, conversation.id,
                          conversation.channel, duplicate=False)


# --- paged lists ------------------------------------------------------------------------------------------------
def _paged(session: Session, statement: Any, count: Any, page: PageRequest, present: Any) -> dict[str, Any]:
    total = session.exec(count).one()
    rows = session.exec(statement.offset(page.offset).limit(page.per_page)).all()
    return page.result([present(r) for r in rows], int(total))


def list_payments(session: Session, page: PageRequest, *, status: str | None = None) -> dict[str, Any]:
    statement, count = select(Payment), select(func.count()).select_from(Payment)
    if status:
        statement, count = statement.where(Payment.status == status), count.where(Payment.status == status)
    return _paged(session, statement.order_by(col(Payment.id).desc()), count, page, _payment)


def list_bookings(session: Session, page: PageRequest, *, status: str | None = None) -> dict[str, Any]:
    statement, count = select(Booking), select(func.count()).select_from(Booking)
    if status:
        statement, count = statement.where(Booking.status == status), count.where(Booking.status == status)
    return _paged(session, statement.order_by(col(Booking.starts_at).desc()), count, page, _booking)


def list_events(session: Session, page: PageRequest, *, kind: str | None = None,
                lead_id: int | None = None) -> dict[str, Any]:
    statement, count = select(Event), select(func.count()).select_from(Event)
    if kind:
        statement, count = statement.where(Event.kind == kind), count.where(Event.kind == kind)
    if lead_id:
        statement, count = statement.where(Event.lead_id == lead_id), count.where(Event.lead_id == lead_id)
    return _paged(session, statement.order_by(col(Event.id).desc()), count, page, lambda e: {
        "id": e.id, "lead_id": e.lead_id, "kind": e.kind, "channel": e.channel, "data": e.data,
        "created_at": _iso(e.created_at)})


def list_failed_jobs(session: Session, page: PageRequest) -> dict[str, Any]:
    return _paged(session, select(FailedJob).order_by(col(FailedJob.id).desc()),
                  select(func.count()).select_from(FailedJob), page, _failed)
