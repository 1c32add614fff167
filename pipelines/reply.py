"""The reply stage: turn the dialog's replies into outgoing message rows plus outbox rows (one per delivery).

An outbox key is derived from the inbound message id and the reply's position, so a retried pipeline run writes
nothing new (ON CONFLICT DO NOTHING) and the same rows get delivered once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, select

from db.models import Message, Outbox, utcnow


@dataclass
class OutgoingReply:
    text: str
    buttons: list[dict[str, str]] = field(default_factory=list)  # [{"text", "callback"}]
    attachments: list[dict[str, Any]] = field(default_factory=list)  # [{"kind", "name", "url", "document_id"}]
    role: str = "assistant"


def write_replies(session: Session, *, key_prefix: str, lead_id: int, conversation_id: int, channel: str,
                  replies: list[OutgoingReply]) -> list[int]:
    """Store each reply as an outgoing message with its outbox row. Returns the ids of outbox rows to deliver."""
    outbox_ids: list[int] = []
    for index, reply in enumerate(replies):
        key = f"{key_prefix}:{index}"
        existing = session.exec(select(Outbox).where(Outbox.key == key)).first()
        if existing is not None:
            if existing.status == "pending" and existing.id is not None:
                outbox_ids.append(existing.id)
            continue
        message = Message(conversation_id=conversation_id, lead_id=lead_id, channel=channel, direction="out",
                          role=reply.role, kind="text", text=reply.text,
                          payload={"buttons": reply.buttons, "attachments": reply.attachments})
        session.add(message)
        session.flush()
        outbox_id = session.execute(
            insert(Outbox.__table__).values(  # type: ignore[attr-defined]
                key=key, lead_id=lead_id, conversation_id=conversation_id, message_id=message.id, channel=channel,
                kind="message", payload={}, status="pending", attempts=0, created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.__table__.c.id)  # type: ignore[attr-defined]
        ).scalar()
        if outbox_id is not None:
            outbox_ids.append(int(outbox_id))
    return outbox_ids


def add_outbox(session: Session, *, key: str, kind: str, payload: dict[str, Any], lead_id: int | None = None,
               conversation_id: int | None = None, channel: str | None = None) -> int | None:
    """Record a side effect (email, CRM call, document render...) once. Returns its id if newly created."""
    outbox_id = session.execute(
        insert(Outbox.__table__).values(  # type: ignore[attr-defined]
            key=key, lead_id=lead_id, conversation_id=conversation_id, channel=channel, kind=kind, payload=payload,
            status="pending", attempts=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["key"]).returning(Outbox.__table__.c.id)  # type: ignore[attr-defined]
    ).scalar()
    return int(outbox_id) if outbox_id is not None else None
