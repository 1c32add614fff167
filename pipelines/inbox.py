"""The inbox: persist one inbound event (and the client, lead and conversation it belongs to) in one transaction.

Called by every receiver (site API, Avito webhook, Telegram update) before it acknowledges anything. Idempotent:
the same (channel, external_id) stored twice yields the first row's id and ``duplicate=True``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from db.models import Client, ClientIdentity, Conversation, Lead, Message, utcnow
from voronka.vocabulary import CHANNELS, NO_PRODUCT, OTHER_SOURCE_TAG, Stage

SOURCE_TAGS: dict[str, str] = {channel: channel.info.source_tag for channel in CHANNELS}

clients = Client.__table__  # type: ignore[attr-defined]
identities = ClientIdentity.__table__  # type: ignore[attr-defined]
leads = Lead.__table__  # type: ignore[attr-defined]
conversations = Conversation.__table__  # type: ignore[attr-defined]
messages = Message.__table__  # type: ignore[attr-defined]


@dataclass
class Inbound:
    channel: str  # avito | telegram | site
    external_chat_id: str  # where to answer: Avito chat id, Telegram chat id, site session id
    external_user_id: str  # who wrote: Avito user id, Telegram user id, site session id
    external_id: str | None  # provider message id (dedup key); None: no dedup possible
    text: str = ""
    kind: str = "text"  # text | callback | voice | image | file | command
    payload: dict[str, Any] = field(default_factory=dict)
    listing_id: str | None = None  # Avito item the chat is about


@dataclass
class Recorded:
    message_id: int
    conversation_id: int
    lead_id: int
    duplicate: bool
    new_lead: bool = False


async def _client_id(conn: AsyncConnection, inbound: Inbound) -> int:
    found = await conn.scalar(sa.select(identities.c.client_id).where(
        identities.c.channel == inbound.channel, identities.c.external_id == inbound.external_user_id))
    if found is not None:
        return int(found)
    client_id = await conn.scalar(sa.insert(clients).values(created_at=utcnow()).returning(clients.c.id))
    inserted = await conn.scalar(
        insert(identities).values(client_id=client_id, channel=inbound.channel,
                                  external_id=inbound.external_user_id, created_at=utcnow())
        .on_conflict_do_nothing(constraint="uq_identity_channel_external").returning(identities.c.client_id))
    if inserted is None:  # another request created it first: use theirs (our empty client row stays unused)
        winner = await conn.scalar(sa.select(identities.c.client_id).where(
            identities.c.channel == inbound.channel, identities.c.external_id == inbound.external_user_id))
        assert winner is not None
        return int(winner)
    return int(inserted)


async def _conversation(conn: AsyncConnection, inbound: Inbound) -> tuple[int, int, bool]:
    """(conversation_id, lead_id, new_lead)."""
    row = (await conn.execute(sa.select(conversations.c.id, conversations.c.lead_id).where(
        conversations.c.channel == inbound.channel,
        conversations.c.external_chat_id == inbound.external_chat_id))).first()
    if row is not None:
        return int(row.id), int(row.lead_id), False
    client_id = await _client_id(conn, inbound)
    lead_id = await conn.scalar(
        sa.select(leads.c.id).where(leads.c.client_id == client_id, leads.c.stage.notin_(("paid", "lost")))
        .order_by(leads.c.id.desc()).limit(1))
    new_lead = lead_id is None
    if lead_id is None:
        now = utcnow()
        lead_id = await conn.scalar(sa.insert(leads).values(
            client_id=client_id, channel=inbound.channel, source_tag=SOURCE_TAGS.get(inbound.channel, OTHER_SOURCE_TAG),
            product=NO_PRODUCT, stage=Stage.NEW, manager_hold=False, blocked=False, quotes_done=0,
            listing_id=inbound.listing_id, created_at=now, updated_at=now).returning(leads.c.id))
    state: dict[str, Any] = {}
    conv_id = await conn.scalar(
        insert(conversations).values(lead_id=lead_id, channel=inbound.channel,
                                     external_chat_id=inbound.external_chat_id, state=state,
                                     created_at=utcnow(), updated_at=utcnow())
        .on_conflict_do_nothing(constraint="uq_conversation_channel_chat").returning(conversations.c.id))
    if conv_id is None:
        row = (await conn.execute(sa.select(conversations.c.id, conversations.c.lead_id).where(
            conversations.c.channel == inbound.channel,
            conversations.c.external_chat_id == inbound.external_chat_id))).one()
        return int(row.id), int(row.lead_id), False
    return int(conv_id), int(lead_id), new_lead


_FAST_INSERT = sa.text("""
    INSERT INTO messages (conversation_id, lead_id, channel, external_id, direction, role, kind, text, payload,
                          created_at, attempts)
    SELECT c.id, c.lead_id, c.channel, :external_id, 'in', 'client', :kind, :text, CAST(:payload AS jsonb), now(), 0
      FROM conversations c
     WHERE c.channel = :channel AND c.external_chat_id = :chat_id
    ON CONFLICT ON CONSTRAINT uq_message_channel_external DO NOTHING
    RETURNING id, conversation_id, lead_id
""").bindparams(sa.bindparam("text", type_=Message.__table__.c.text.type))  # type: ignore[attr-defined]


async def record_inbound(conn: AsyncConnection, inbound: Inbound) -> Recorded:
    """Store the event. The caller commits (``async with engine.begin()``) and only then enqueues/acknowledges.

    The common case — a known conversation — is one statement; the first message of a conversation (or a duplicate)
    takes the full path below.
    """
    fast = (await conn.execute(_FAST_INSERT, {
        "external_id": inbound.external_id, "kind": inbound.kind, "text": inbound.text,
        "payload": json.dumps(inbound.payload, ensure_ascii=False), "channel": inbound.channel,
        "chat_id": inbound.external_chat_id})).first()
    if fast is not None:
        return Recorded(int(fast.id), int(fast.conversation_id), int(fast.lead_id), duplicate=False)
    if inbound.external_id is not None:
        existing = (await conn.execute(sa.select(messages.c.id, messages.c.conversation_id, messages.c.lead_id)
                                       .where(messages.c.channel == inbound.channel,
                                              messages.c.external_id == inbound.external_id))).first()
        if existing is not None:
            return Recorded(int(existing.id), int(existing.conversation_id), int(existing.lead_id), duplicate=True)
    conv_id, lead_id, new_lead = await _conversation(conn, inbound)
    message_id = await conn.scalar(
        insert(messages).values(conversation_id=conv_id, lead_id=lead_id, channel=inbound.channel,
                                external_id=inbound.external_id, direction="in", role="client", kind=inbound.kind,
                                text=inbound.text, payload=inbound.payload, created_at=utcnow(), attempts=0)
        .on_conflict_do_nothing(constraint="uq_message_channel_external").returning(messages.c.id))
    if message_id is None:  # a concurrent duplicate won the race
        row = (await conn.execute(sa.select(messages.c.id).where(
            messages.c.channel == inbound.channel, messages.c.external_id == inbound.external_id))).one()
        return Recorded(int(row.id), conv_id, lead_id, duplicate=True)
    return Recorded(int(message_id), conv_id, lead_id, duplicate=False, new_lead=new_lead)
