"""One inbound message, end to end: understand → retrieve → decide → (price, document, integrate) → reply.

``handle_inbound`` runs in a worker thread with a sync session. It locks the conversation, processes every earlier
unprocessed message of it in order, writes replies as outbox rows, marks the messages processed and commits. It returns
the outbox ids to deliver. Re-running it for a processed message writes nothing and returns its still-pending rows.
"""

from __future__ import annotations

import time

from loguru import logger
from sqlalchemy import or_
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Conversation, Lead, Message, Outbox, utcnow
from pipelines.memory import refresh
from pipelines.reply import write_replies
from pipelines.runtime import Runtime
from pipelines.turn import TurnResult, decide_turn


class MessageNotFound(Exception):
    """The inbox row does not exist (never retried)."""


def handle_inbound(deps: Runtime, message_id: int) -> list[tuple[int, str]]:
    with session_scope(deps.engine) as session:
        message = session.get(Message, message_id)
        if message is None:
            raise MessageNotFound(f"inbox message {message_id} not found")
        conversation = session.exec(
            select(Conversation).where(Conversation.id == message.conversation_id).with_for_update()).one()
        session.refresh(message)
        if message.processed_at is not None:
            return _pending_outbox(session, conversation.id, conversation.lead_id)
        lead = session.exec(select(Lead).where(Lead.id == conversation.lead_id).with_for_update()).one()
        if deps.settings.VORONKA_FAULT_PIPELINE_DELAY:
            time.sleep(deps.settings.VORONKA_FAULT_PIPELINE_DELAY)  # fault-injection knob used by the kill -9 test
        backlog = session.exec(
            select(Message).where(Message.conversation_id == conversation.id, Message.direction == "in",
                                  col(Message.processed_at).is_(None), col(Message.id) <= message_id)
            .order_by(col(Message.id))).all()
        for inbound in backlog:
            log = logger.bind(lead_id=lead.id, channel=conversation.channel, chat_id=conversation.id,
                              message_id=inbound.id)
            inbound.attempts += 1
            turn = run_turn(deps, session, lead=lead, conversation=conversation, message=inbound)
            write_replies(session, key_prefix=f"reply:{inbound.id}", lead_id=lead.id or 0,
                          conversation_id=conversation.id or 0, channel=conversation.channel, replies=turn.replies)
            inbound.processed_at = utcnow()
            session.add(inbound)
            log.info("message processed: {} replies", len(turn.replies))
        conversation.updated_at = utcnow()
        session.add(conversation)
        session.flush()
        pending = _pending_outbox(session, conversation.id, lead.id)
        lead_id = lead.id
    if lead_id is not None:
        with session_scope(deps.engine) as session:
            refresh(deps, session, lead_id=lead_id, ttl_days=deps.settings.SESSION_TTL_DAYS,
                    limit=deps.settings.MAX_CONTEXT_MESSAGES)
    return pending


def _pending_outbox(session: Session, conversation_id: int | None,
                    lead_id: int | None = None) -> list[tuple[int, str]]:
    """(id, kind) of the conversation's (and its lead's) outbox rows still waiting to be performed."""
    scope = col(Outbox.conversation_id) == conversation_id
    if lead_id is not None:
        scope = or_(scope, col(Outbox.lead_id) == lead_id)
    rows = session.exec(select(Outbox.id, Outbox.kind).where(scope, Outbox.status == "pending")
                        .order_by(col(Outbox.id))).all()
    return [(int(r[0]), str(r[1])) for r in rows if r[0] is not None]


def run_turn(deps: Runtime, session: Session, *, lead: Lead, conversation: Conversation,
             message: Message) -> TurnResult:
    """The stages for one client message. A manager holding the conversation silences the bot here."""
    if lead.manager_hold:
        return TurnResult(replies=[], notes={"silenced": "manager_hold"})
    return decide_turn(deps, session, lead=lead, conversation=conversation, message=message)
