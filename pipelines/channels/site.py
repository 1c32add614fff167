"""The site channel (chat widget and lead form): an accepted event is stored and queued; the visitor's conversation
is read back for the widget's polls. The web handlers (``web.routes.site_chat``, ``site_forms``) only validate."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Conversation, Message
from pipelines.channels.receive import CHANNEL_ACTOR, CHANNEL_QUEUE
from pipelines.enqueuer import Enqueuer
from pipelines.inbox import Inbound, Recorded, record_inbound

messages_t = Message.__table__  # type: ignore[attr-defined]
conversations_t = Conversation.__table__  # type: ignore[attr-defined]


def chat_inbound(session_id: str, kind: str, value: str, client_message_id: str | None) -> Inbound:
    """A widget message (``kind`` "text") or button press (``kind`` "callback", ``value`` its callback data)."""
    return Inbound(
        channel="site", external_chat_id=session_id, external_user_id=session_id,
        external_id=f"{session_id}:{client_message_id}" if client_message_id else None,
        text=value if kind == "text" else "", kind=kind,
        payload={"callback": value} if kind == "callback" else {},
    )


def form_inbound(session_id: str, client_message_id: str | None, text: str, payload: dict[str, Any]) -> Inbound:
    """The lead form as an inbound site message (kind "form") of the visitor's session."""
    return Inbound(
        channel="site", external_chat_id=session_id, external_user_id=session_id,
        external_id=f"{session_id}:form:{client_message_id}" if client_message_id else None,
        text=text, kind="form", payload=payload,
    )


async def accept_site_event(engine: AsyncEngine, enqueuer: Enqueuer, inbound: Inbound) -> Recorded:
    """Store (and commit) the event, then queue it for the channel actor. A repeated client_message_id is not queued
    again."""
    async with engine.begin() as conn:
        recorded = await record_inbound(conn, inbound)
    if not recorded.duplicate:
        await enqueuer.enqueue_async(CHANNEL_ACTOR, recorded.message_id, queue=CHANNEL_QUEUE,
                                     lead_id=recorded.lead_id)
    return recorded


def present(row: Any) -> dict[str, Any]:
    """One message as the widget shows it: the visitor's button press as the button's label."""
    payload = row.payload or {}
    role = "client" if row.direction == "in" else row.role
    text = row.text
    if row.direction == "in" and row.kind == "callback":
        text = payload.get("label") or text
    return {
        "id": row.id, "role": role, "text": text,
        "buttons": payload.get("buttons", []) if row.direction == "out" else [],
        "attachments": payload.get("attachments", []) if row.direction == "out" else [],
        "created_at": row.created_at.isoformat(),
    }


async def site_messages(engine: AsyncEngine, session_id: str, after: int, limit: int = 100) -> list[dict[str, Any]]:
    """The visitor's messages and the assistant's/manager's answers after message id ``after``, oldest first."""
    query = (
        sa.select(messages_t.c.id, messages_t.c.direction, messages_t.c.role, messages_t.c.kind, messages_t.c.text,
                  messages_t.c.payload, messages_t.c.created_at)
        .join(conversations_t, conversations_t.c.id == messages_t.c.conversation_id)
        .where(conversations_t.c.channel == "site", conversations_t.c.external_chat_id == session_id,
               messages_t.c.id > after,
               sa.or_(messages_t.c.direction == "in", messages_t.c.role.in_(("assistant", "manager"))))
        .order_by(messages_t.c.id).limit(limit)
    )
    async with engine.connect() as conn:
        rows = (await conn.execute(query)).all()
    return [present(r) for r in rows]
