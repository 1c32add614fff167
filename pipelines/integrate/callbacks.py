"""Buttons of the deals feature, routed before the dialog (``pipelines.turn.decide_turn`` calls ``handle_callback``).

Callbacks: ``slot_pick:<iso or 1-based index of the offered slots>``, ``slot_other``, ``booking:cancel:<id>``,
``booking:move:<id>``, ``pay_new:<payment id>``, ``nps:<0-10>``. Slow work (calendar, YooKassa) becomes an
"action" outbox row whose handler replies; quick work (an NPS answer, a handoff) replies at once. ``None`` means
"not ours": the dialog handles the callback.

Channels without buttons (Avito) answer with words: ``callback_for_text`` turns a bare number after an NPS survey or
a slot list, «новая ссылка», «перенести», «отменить запись» into the same callbacks.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlmodel import Session, col, select

from db.models import Booking, Conversation, Lead, Message, Payment
from pipelines.buttons import BookingChange, NpsScore, PaymentRenew, SlotOther, SlotPick, parse_callback
from pipelines.dialog.hours import manager_eta
from pipelines.dialog.state import DialogState
from pipelines.integrate import nps
from pipelines.integrate.booking import parse_slot
from pipelines.integrate.dealkit import now_utc, queue_action
from pipelines.leads import hand_off
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime

SLOTS_STATE_TTL = timedelta(hours=24)
_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)!]?\s*$")
_NEW_LINK = re.compile(r"^(пришлите |дайте |нужна )?(нов\w* ссылк\w*|ссылк\w* заново)\W*$")
_MOVE = re.compile(r"^перенес\w* (запись|консультацию)\W*$")
_CANCEL = re.compile(r"^отмен\w* (запись|консультацию)\W*$")
_BARE = re.compile(r"^(перенести|отменить)\W*$")  # on Avito, where the reminder asks for exactly these words


def _key(conversation: Conversation, message: Message | None, name: str) -> str:
    if message is not None and message.id is not None:
        return f"callback:{message.id}:{name}"
    return f"callback:{conversation.id}:{name}:{now_utc().timestamp():.0f}"


def _action(session: Session, lead: Lead, conversation: Conversation, message: Message | None, name: str,
            action: str, data: dict[str, Any]) -> list[OutgoingReply]:
    queue_action(session, lead, key=_key(conversation, message, name), action=action, data=data,
                 conversation_id=conversation.id, channel=conversation.channel)
    return []  # the action's handler replies


def offered_slots(conversation: Conversation) -> list[str]:
    state = DialogState.load(conversation.state)
    offered_at = state.booking_offered_at
    fresh = offered_at is not None and now_utc() - offered_at < SLOTS_STATE_TTL
    return [slot.isoformat() for slot in state.booking_slots] if fresh else []


def handle_callback(deps: Runtime, session: Session, lead: Lead, conversation: Conversation, callback: str,
                    *, message: Message | None = None) -> list[OutgoingReply] | None:
    """Replies for a deals callback (possibly none: an action will reply), or ``None`` when it is not ours."""
    button = parse_callback(callback)
    if isinstance(button, SlotPick):
        arg = button.at
        start = parse_slot(arg)
        if start is None and arg.isdigit():
            slots = offered_slots(conversation)
            index = int(arg) - 1
            start = parse_slot(slots[index]) if 0 <= index < len(slots) else None
        if start is None:
            return [OutgoingReply(text="Не получилось разобрать время. Выберите, пожалуйста, вариант из списка.")]
        return _action(session, lead, conversation, message, "slot", "booking_confirm", {"start": start.isoformat()})
    if isinstance(button, SlotOther):
        return _other_time(deps, session, lead, conversation, message)
    if isinstance(button, BookingChange):
        if button.action == "cancel":
            return _action(session, lead, conversation, message, "cancel", "booking_cancel",
                           {"booking_id": button.booking_id})
        return _action(session, lead, conversation, message, "move", "booking", {"move_from": button.booking_id})
    if isinstance(button, PaymentRenew):
        return _action(session, lead, conversation, message, "pay", "payment_renew",
                       {"payment_id": button.payment_id})
    if isinstance(button, NpsScore):
        score = button.score
        return nps.answer(session, lead, conversation, score)
    return None


def _other_time(deps: Runtime, session: Session, lead: Lead, conversation: Conversation,
                message: Message | None) -> list[OutgoingReply]:
    """«Другое время»: a manager agrees the time with the client (the bot steps aside)."""
    assert lead.id is not None
    hand_off(session, lead, conversation, reason="booking_other_time",
             summary="Клиент хочет консультацию, но предложенные слоты не подошли: договоритесь о времени.",
             message_id=message.id if message is not None and message.id is not None else lead.id)
    eta = manager_eta(now_utc(), deps.settings.WORKING_HOURS)
    return [OutgoingReply(text="Напишите, пожалуйста, удобные день и время консультации — менеджер подберёт время и "
                               f"подтвердит запись ({eta}).")]


def callback_for_text(session: Session, lead: Lead, conversation: Conversation, text: str | None) -> str | None:
    """A deals callback that a short text stands for (channels without buttons), else ``None``."""
    if not text or lead.id is None:
        return None
    lowered = text.strip().lower().replace("ё", "е")
    number = _NUMBER.match(lowered)
    if number:
        value = int(number.group(1))
        slots = offered_slots(conversation)
        if slots and 1 <= value <= len(slots):
            return f"slot_pick:{value}"
        if value <= 10 and nps.awaiting_answer(session, lead.id):
            return f"nps:{value}"
        return None
    if _NEW_LINK.match(lowered):
        payment = session.exec(select(Payment).where(Payment.lead_id == lead.id)
                               .order_by(col(Payment.id).desc())).first()
        if payment is not None and payment.status in ("expired", "canceled", "pending"):
            return f"pay_new:{payment.id}"
        return None
    bare = _BARE.match(lowered) if conversation.channel == "avito" else None
    moving = _MOVE.match(lowered) or (bare and bare.group(1) == "перенести")
    cancelling = _CANCEL.match(lowered) or (bare and bare.group(1) == "отменить")
    if moving or cancelling:
        booking = session.exec(select(Booking).where(Booking.lead_id == lead.id, Booking.status == "confirmed",
                                                     col(Booking.starts_at) > now_utc())
                               .order_by(col(Booking.starts_at))).first()
        if booking is not None:
            return f"booking:{'move' if moving else 'cancel'}:{booking.id}"
    return None
