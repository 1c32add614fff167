"""The managers' Telegram chat: take a conversation, write to the client by replying, give it back.

Updates from the managers' chat are stored (``manager_updates``) before they are acknowledged; a worker then runs
``handle_manager_update`` once per row:
- «Взять диалог» (``mgr:take:<lead_id>``): the lead is held by a manager — the bot is silent on every channel;
- «Вернуть боту» (``mgr:back:<lead_id>``): the bot answers again (the dialog resets its handoff flag itself);
- a reply to one of the bot's messages in that chat (a notice or a forwarded client message): the text goes to the
  client's conversation on its own channel as an outgoing message with role "manager", through the normal outbox.
  Writing to a client also takes the conversation (the bot must not talk over the manager).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Conversation, Event, Lead, Message, utcnow
from db.models_channels import ManagerChatMessage, ManagerUpdate
from pipelines.leads import give_back, record_event
from pipelines.reply import OutgoingReply, add_outbox, write_replies

TOOK = "Диалог ваш: бот молчит. Отвечайте клиенту ответом (Reply) на его сообщения."
GAVE_BACK = "Бот снова ведёт диалог."
ALREADY_BOT = "Диалог и так у бота."
UNKNOWN_LEAD = "Лид не найден."
NO_TARGET = ("Не понял, кому ответить: ответьте (Reply) на уведомление о лиде или на пересланное сообщение "
             "клиента.")


@dataclass
class ManagerOutcome:
    outbox: list[tuple[int, str]] = field(default_factory=list)  # rows to deliver
    callback_query_id: str | None = None
    callback_text: str | None = None


def take_over(session: Session, lead: Lead, *, by: str) -> bool:
    """A manager holds the conversation: the bot is silent on every channel. False when it already was held."""
    if lead.manager_hold:
        return False
    lead.manager_hold = True
    lead.handoff_reason = lead.handoff_reason or "manager_took"
    lead.updated_at = utcnow()
    session.add(lead)
    record_event(session, lead_id=lead.id, kind="taken_over", channel=None, data={"by": by})
    return True


def _manager_name(user: dict[str, Any] | None) -> str:
    if not isinstance(user, dict):
        return "Менеджер"
    name = " ".join(str(user[k]) for k in ("first_name", "last_name") if user.get(k)).strip()
    return name or (f"@{user['username']}" if user.get("username") else "Менеджер")


def _locked_lead(session: Session, lead_id: int) -> Lead | None:
    return session.exec(select(Lead).where(Lead.id == lead_id).with_for_update()).first()


def _on_button(session: Session, row: ManagerUpdate, query: dict[str, Any], out: ManagerOutcome) -> None:
    out.callback_query_id = str(query.get("id") or "") or None
    data = str(query.get("data") or "")
    parts = data.split(":")
    by = _manager_name(query.get("from"))
    if len(parts) != 3 or parts[0] != "mgr" or parts[1] not in ("take", "back") or not parts[2].isdigit():
        out.callback_text = None
        return
    lead = _locked_lead(session, int(parts[2]))
    if lead is None or lead.id is None:
        out.callback_text = UNKNOWN_LEAD
        return
    if parts[1] == "take":
        changed = take_over(session, lead, by=by)
        out.callback_text = TOOK
    else:
        changed = lead.manager_hold
        if changed:
            give_back(session, lead, by=by)
        out.callback_text = GAVE_BACK if changed else ALREADY_BOT
    if changed:
        new = add_outbox(session, key=f"notify:mgr:{row.update_id}", kind="notify", lead_id=lead.id,
                         channel=lead.channel, payload={"event": "manager_action", "action": parts[1], "by": by})
        if new is not None:
            out.outbox.append((new, "notify"))


def _on_reply(session: Session, row: ManagerUpdate, message: dict[str, Any], out: ManagerOutcome) -> None:
    replied = message.get("reply_to_message")
    text = str(message.get("text") or message.get("caption") or "").strip()
    if not isinstance(replied, dict) or not text or not (replied.get("from") or {}).get("is_bot"):
        return  # managers talking among themselves
    target = session.exec(select(ManagerChatMessage).where(
        ManagerChatMessage.chat_id == row.chat_id,
        ManagerChatMessage.telegram_message_id == int(replied.get("message_id") or 0))).first()
    conversation = session.get(Conversation, target.conversation_id) if target and target.conversation_id else None
    if target is None or conversation is None or conversation.id is None:
        logger.info("managers' chat: a reply to a message that is not about a client conversation")
        new = add_outbox(session, key=f"notify:mgr-hint:{row.update_id}", kind="notify", channel="telegram",
                         payload={"event": "hint", "text": NO_TARGET})
        if new is not None:
            out.outbox.append((new, "notify"))
        return
    lead = _locked_lead(session, conversation.lead_id)
    if lead is None or lead.id is None:
        return
    take_over(session, lead, by=_manager_name(message.get("from")))
    ids = write_replies(session, key_prefix=f"mgr:{row.update_id}", lead_id=lead.id, conversation_id=conversation.id,
                        channel=conversation.channel, replies=[OutgoingReply(text=text, role="manager")])
    record_event(session, lead_id=lead.id, kind="manager_reply", channel=conversation.channel,
                 data={"by": _manager_name(message.get("from"))})
    out.outbox.extend((i, "message") for i in ids)


def handle_manager_update(engine: Engine, update_row_id: int) -> ManagerOutcome:
    """Process one stored managers' chat update (once). Network calls are the caller's, after the commit."""
    out = ManagerOutcome()
    with session_scope(engine) as session:
        row = session.exec(select(ManagerUpdate).where(ManagerUpdate.id == update_row_id).with_for_update()).first()
        if row is None or row.processed_at is not None:
            return out
        update = row.payload or {}
        if isinstance(update.get("callback_query"), dict):
            _on_button(session, row, update["callback_query"], out)
        elif isinstance(update.get("message"), dict):
            _on_reply(session, row, update["message"], out)
        row.processed_at = utcnow()
        session.add(row)
    return out


HOLD_EVENTS = ("handoff", "taken_over")
FORWARD_WINDOW_HOURS = 24


def forward_held_messages(engine: Engine, limit: int = 200) -> list[tuple[int, str]]:
    """Forward to the managers' chat every client message a held conversation received since it was taken (the
    channel actor forwards Avito/Telegram messages at once; this catches the rest, e.g. the site chat)."""
    created: list[tuple[int, str]] = []
    since = utcnow() - timedelta(hours=FORWARD_WINDOW_HOURS)
    with session_scope(engine) as session:
        held = session.exec(select(Lead).where(col(Lead.manager_hold).is_(True))).all()
        for lead in held:
            taken = session.exec(select(Event.created_at).where(Event.lead_id == lead.id,
                                                                col(Event.kind).in_(HOLD_EVENTS))
                                 .order_by(col(Event.id).desc()).limit(1)).first()
            if taken is None:
                continue
            messages = session.exec(select(Message).where(
                Message.lead_id == lead.id, Message.direction == "in", Message.created_at > max(taken, since),
                col(Message.processed_at).is_not(None)).order_by(col(Message.id)).limit(limit)).all()
            for message in messages:
                payload = message.payload or {}
                new = add_outbox(session, key=f"notify:fwd:{message.id}", kind="notify", lead_id=lead.id,
                                 conversation_id=message.conversation_id, channel=message.channel,
                                 payload={"event": "client_message", "text": message.text, "kind": message.kind,
                                          "media_url": payload.get("voice_url") or payload.get("media_url"),
                                          "message_id": message.id})
                if new is not None:
                    created.append((new, "notify"))
    return created
