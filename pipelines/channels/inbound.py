"""Channel steps around one inbound message (Avito, Telegram), run by the channel actor before and after the turn.

Before (``prepare``):
- Telegram: answer a button press (the client's spinner stops) or show «печатает…»; a client who writes again after
  blocking the bot is unblocked; ``/start site_<session>`` joins the site session's lead (brief and history go on);
- Avito, first message of a chat: the listing (item id and title, from the webhook or the chat info) preselects the
  product through the item → product mapping, so «Здравствуйте, актуально?» on a lawyer listing starts the lawyer's
  brief; a new Avito lead gets a "new_lead" notice (managers' chat, e-mail; tag avito-lead for the CRM); a voice
  message gets its file URL for the manager;
- a conversation held by a manager: the client's message is forwarded to the managers' chat.
After (``after_turn``): a phone or e-mail matching another client's open lead merges the two leads.
Every network call here is best effort: a failure is logged and the client still gets the dialog's answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from loguru import logger
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Conversation, Lead, Message
from pipelines.channels import avito as avito_ops
from pipelines.channels.clients import ChannelClients
from pipelines.channels.identity import deep_link_session, join_site_session, merge_by_contacts
from pipelines.conversation import MessageNotFound
from pipelines.leads import record_event
from pipelines.memory import memory_key
from pipelines.reply import add_outbox
from pipelines.runtime import Runtime
from voronka.errors import NotConfigured, UpstreamError


@dataclass
class Prepared:
    message_id: int
    lead_id: int
    channel: str


def _is_first(session: Session, message: Message) -> bool:
    earlier = session.exec(select(Message.id).where(Message.conversation_id == message.conversation_id,
                                                    Message.direction == "in", col(Message.id) < message.id)
                           .limit(1)).first()
    return earlier is None


def _telegram_presence(clients: ChannelClients, conversation: Conversation, message: Message) -> None:
    payload = message.payload or {}
    query_id = payload.get("callback_query_id")

    async def go() -> None:
        sender = await clients.telegram()
        if message.kind == "callback" and query_id:
            await sender.answer_callback(str(query_id))
        else:
            await sender.send_typing(conversation.external_chat_id)

    try:
        clients.run(go())
    except (UpstreamError, NotConfigured) as exc:
        logger.bind(chat_id=conversation.id).warning("telegram presence not shown: {}", exc)


def _avito_listing(session: Session, clients: ChannelClients, lead: Lead,
                   conversation: Conversation) -> str | None:
    """The product of the listing this Avito chat is about (mapping, else title keywords), or None."""
    item = avito_ops.known_item(session, lead.listing_id) if lead.listing_id else None
    if item is not None and (item.title or item.product_source == "manual"):
        return item.product
    if not clients.settings.avito_configured:
        return None

    async def go() -> dict[str, Any]:
        return await (await clients.avito()).get_chat(conversation.external_chat_id)

    try:
        chat = clients.run(go())
    except UpstreamError as exc:
        logger.bind(chat_id=conversation.id).warning("avito chat info unavailable: {}", exc)
        return None
    item_id, title, url = avito_ops.listing_from_chat(chat)
    item_id = item_id or lead.listing_id
    if item_id is None:
        return None
    lead.listing_id = lead.listing_id or item_id
    return avito_ops.remember_item(session, item_id, title=title, url=url).product


def _voice_url(clients: ChannelClients, voice_id: str) -> str | None:
    if not clients.settings.avito_configured:
        return None

    async def go() -> dict[str, str]:
        return await (await clients.avito()).get_voice_urls([voice_id])

    try:
        return clients.run(go()).get(voice_id)
    except UpstreamError as exc:
        logger.warning("avito voice file URL unavailable: {}", exc)
        return None


def _avito_first_message(session: Session, clients: ChannelClients, message: Message, lead: Lead,
                         conversation: Conversation) -> None:
    product = _avito_listing(session, clients, lead, conversation)
    locked = session.exec(select(Lead).where(Lead.id == lead.id).with_for_update()).one()
    if product and not locked.listing_product:
        locked.listing_product = product
    if lead.listing_id and not locked.listing_id:
        locked.listing_id = lead.listing_id
    session.add(locked)
    if locked.channel == "avito":
        item = avito_ops.known_item(session, locked.listing_id) if locked.listing_id else None
        created = add_outbox(session, key=f"notify:new_lead:{locked.id}", kind="notify", lead_id=locked.id,
                             conversation_id=conversation.id, channel="avito",
                             payload={"event": "new_lead", "tag": locked.source_tag, "text": message.text,
                                      "listing_title": item.title if item is not None else None})
        if created is not None:
            record_event(session, lead_id=locked.id, kind="new_lead", channel="avito",
                         data={"tag": locked.source_tag, "listing_id": locked.listing_id, "product": product})


def prepare(deps: Runtime, clients: ChannelClients, message_id: int) -> Prepared:
    with session_scope(deps.engine) as session:
        message = session.get(Message, message_id)
        if message is None:
            raise MessageNotFound(f"inbox message {message_id} not found")
        conversation = session.get(Conversation, message.conversation_id)
        lead = session.get(Lead, message.lead_id)
        assert conversation is not None and lead is not None and lead.id is not None
        fresh = message.processed_at is None
        log = logger.bind(lead_id=lead.id, channel=conversation.channel, chat_id=conversation.id,
                          message_id=message_id)
        if conversation.channel == "telegram":
            if fresh:
                _telegram_presence(clients, conversation, message)
            if lead.blocked:
                lead.blocked = False
                record_event(session, lead_id=lead.id, kind="unblocked", channel="telegram", data={})
                session.add(lead)
            site_session = deep_link_session(message.text) if message.kind == "command" else None
            if site_session:
                joined = join_site_session(session, conversation, site_session)
                log.info("telegram deep link: joined lead {}", joined)
        elif conversation.channel == "avito":
            if _is_first(session, message):
                _avito_first_message(session, clients, message, lead, conversation)
            voice_id = (message.payload or {}).get("voice_id")
            if voice_id and not (message.payload or {}).get("voice_url"):
                url = _voice_url(clients, str(voice_id))
                if url:
                    session.execute(sa.update(Message).where(col(Message.id) == message_id)
                                    .values(payload={**(message.payload or {}), "voice_url": url}))
    with session_scope(deps.engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        lead = session.get(Lead, message.lead_id)
        assert lead is not None and lead.id is not None
        if lead.manager_hold and message.processed_at is None:
            payload = message.payload or {}
            add_outbox(session, key=f"notify:fwd:{message_id}", kind="notify", lead_id=lead.id,
                       conversation_id=message.conversation_id, channel=message.channel,
                       payload={"event": "client_message", "text": message.text, "kind": message.kind,
                                "media_url": payload.get("voice_url") or payload.get("media_url"),
                                "message_id": message_id})
        return Prepared(message_id=message_id, lead_id=lead.id, channel=message.channel)


def after_turn(deps: Runtime, prepared: Prepared) -> int | None:
    """Merge this lead with another client's open lead of the same phone/e-mail. Returns the kept lead id."""
    with session_scope(deps.engine) as session:
        message = session.get(Message, prepared.message_id)
        lead_id = message.lead_id if message is not None else prepared.lead_id
        kept = merge_by_contacts(session, lead_id)
    if kept is not None and deps.redis is not None:
        try:
            deps.redis.delete(memory_key(kept), memory_key(lead_id))
        except Exception as exc:  # the memory cache is rebuilt from Postgres anyway
            logger.warning("memory cache not cleared after merge: {}", type(exc).__name__)
    return kept
