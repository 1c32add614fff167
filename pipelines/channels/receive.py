"""Receiving a channel message (Avito webhook, Telegram update): persist it, then queue it — nothing else.

An update from the Telegram managers' chat is stored as a ``manager_updates`` row (unique ``update_id``) and queued
for the managers' actor (``accept_manager_update``).

``accept_inbound`` stores the event through the inbox in one transaction and only after the commit enqueues the
channel actor. A message longer than MAX_MESSAGE_LENGTH is stored truncated (flagged, with its original length) and
answered right away in the same transaction with a polite request to shorten it — it never reaches the dialog as a
cut-off text and is never dropped silently.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from db.models import Message, Outbox, utcnow
from db.models_channels import ManagerUpdate
from pipelines.enqueuer import Enqueuer
from pipelines.inbox import Inbound, Recorded, record_inbound

CHANNEL_ACTOR = "channels.inbound"
CHANNEL_QUEUE = "inbound"
MANAGER_ACTOR = "channels.manager_update"

messages_t = Message.__table__  # type: ignore[attr-defined]
outbox_t = Outbox.__table__  # type: ignore[attr-defined]
manager_updates_t = ManagerUpdate.__table__  # type: ignore[attr-defined]


def oversize_text(limit: int) -> str:
    return (f"Сообщение получилось очень длинным — я принимаю не больше {limit} символов за раз, поэтому "
            "полностью его не разобрал. Пожалуйста, напишите главное коротко или разбейте на несколько "
            "сообщений — отвечу сразу.")


def truncate(inbound: Inbound, limit: int) -> bool:
    """Cut an over-long text to ``limit`` characters, flagging it in the payload. True when it was cut."""
    if len(inbound.text) <= limit:
        return False
    inbound.payload = {**inbound.payload, "truncated": True, "original_length": len(inbound.text)}
    inbound.text = inbound.text[:limit]
    return True


@dataclass
class Accepted:
    recorded: Recorded
    oversize_outbox_id: int | None = None


async def _answer_oversize(conn: AsyncConnection, recorded: Recorded, channel: str, limit: int) -> int | None:
    now = utcnow()
    await conn.execute(sa.update(messages_t).where(messages_t.c.id == recorded.message_id)
                       .values(processed_at=now, attempts=1))
    out_id = await conn.scalar(sa.insert(messages_t).values(
        conversation_id=recorded.conversation_id, lead_id=recorded.lead_id, channel=channel, direction="out",
        role="assistant", kind="text", text=oversize_text(limit), payload={"buttons": [], "attachments": []},
        created_at=now, attempts=0).returning(messages_t.c.id))
    outbox_id = await conn.scalar(
        insert(outbox_t).values(key=f"reply:{recorded.message_id}:0", lead_id=recorded.lead_id,
                                conversation_id=recorded.conversation_id, message_id=out_id, channel=channel,
                                kind="message", payload={}, status="pending", attempts=0, created_at=now)
        .on_conflict_do_nothing(index_elements=["key"]).returning(outbox_t.c.id))
    return int(outbox_id) if outbox_id is not None else None


async def accept_inbound(engine: AsyncEngine, enqueuer: Enqueuer, inbound: Inbound, *, max_length: int) -> Accepted:
    """Persist (and commit) one inbound event, then queue its processing (without blocking the event loop).
    Duplicates are not queued again."""
    cut = truncate(inbound, max_length)
    oversize_id: int | None = None
    async with engine.begin() as conn:
        recorded = await record_inbound(conn, inbound)
        if cut and not recorded.duplicate:
            oversize_id = await _answer_oversize(conn, recorded, inbound.channel, max_length)
    if not recorded.duplicate:  # the actor also delivers the oversize answer (a pending row of the conversation)
        await enqueuer.enqueue_async(CHANNEL_ACTOR, recorded.message_id, queue=CHANNEL_QUEUE, lead_id=recorded.lead_id)
    return Accepted(recorded, oversize_id)


async def accept_manager_update(engine: AsyncEngine, enqueuer: Enqueuer, *, update_id: int, chat_id: str,
                                payload: dict[str, object]) -> int | None:
    """Store an update from the managers' chat (once per update_id), then queue it. The new row's id, or None for a
    redelivery."""
    async with engine.begin() as conn:
        row_id = await conn.scalar(
            insert(manager_updates_t).values(update_id=str(update_id), chat_id=chat_id, payload=payload,
                                             created_at=utcnow())
            .on_conflict_do_nothing(index_elements=["update_id"]).returning(manager_updates_t.c.id))
    if row_id is None:
        return None
    await enqueuer.enqueue_async(MANAGER_ACTOR, int(row_id), queue=CHANNEL_QUEUE)
    return int(row_id)
