"""Consultation bookings in Google Calendar.

* "booking" {} / {"move_from": id}: free slots from ``freeBusy`` within the working hours (BOOKING_* settings,
  minimum notice) as buttons ``slot_pick:<iso>`` — the next 5 — plus «Другое время» (``slot_other``).
* "booking_confirm" {"start": iso}: books the slot. A Redis lock per slot, a fresh ``freeBusy`` check and a unique
  index on confirmed bookings' start time make sure one slot is never booked twice; the loser gets fresh slots.
  A lead has one upcoming consultation: booking another time moves it (the old event is deleted).
* "booking_cancel" {"booking_id"}: deletes the event (410 Gone = already done) and cancels the reminders.

Without Google Calendar settings the client is offered a call back and the managers are told.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from loguru import logger
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from db.models import Booking, Conversation, Lead, Stage
from integrations.gcal import GoogleAPIError, GoogleCalendarClient, free_slots, overlaps, parse_work_hours
from integrations.smtp import format_datetime
from pipelines.dialog.state import DialogState
from pipelines.integrate import nps, reminder_schedule, reminders
from pipelines.integrate.dealkit import (
    contact_context,
    notify_managers,
    notify_not_configured,
    now_utc,
    queue_action,
)
from pipelines.integrate.emails import queue_both, queue_email
from pipelines.leads import advance_stage, record_event
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime
from voronka.errors import NotConfigured

SLOTS_OFFERED = 5
LOCK_MS = 60_000
OTHER_TIME = {"text": "Другое время", "callback": "slot_other"}
WEEKDAYS = ("пн", "вт", "ср", "чт", "пт", "сб", "вс")
_RELEASE_LUA = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


def _calendar(deps: Runtime) -> GoogleCalendarClient:
    return GoogleCalendarClient.from_settings(deps.settings)


def _with_calendar(deps: Runtime, body: Any) -> Any:
    async def go() -> Any:
        client = _calendar(deps)
        try:
            return await body(client)
        finally:
            await client.close()

    return deps.bridge.run(go())


def slot_label(start: datetime, tz: str) -> str:
    local = start.astimezone(ZoneInfo(tz))
    return f"{WEEKDAYS[local.weekday()]} {local:%d.%m} {local:%H:%M}"


def parse_slot(value: str) -> datetime | None:
    try:
        start = datetime.fromisoformat(value)
    except ValueError:
        return None
    return start if start.tzinfo is not None else None


def find_slots(deps: Runtime, session: Session, *, exclude: set[datetime] | None = None,
               now: datetime | None = None) -> list[datetime]:
    """The next free slots: calendar ``freeBusy`` + our confirmed bookings + ``exclude`` are busy."""
    s = deps.settings
    current = now or now_utc()
    horizon = current + timedelta(days=s.BOOKING_DAYS_AHEAD + 1)
    busy = _with_calendar(deps, lambda c: c.free_busy(current, horizon, s.BOOKING_TIMEZONE))
    step = timedelta(minutes=s.BOOKING_SLOT_MINUTES)
    ours = session.exec(select(Booking.starts_at, Booking.ends_at).where(
        Booking.status == "confirmed", col(Booking.ends_at) > current)).all()
    busy = list(busy) + [(a, b) for a, b in ours] + [(x, x + step) for x in (exclude or set())]
    return free_slots(busy, now=current, days=s.BOOKING_DAYS_AHEAD, work_days=s.BOOKING_WORK_DAYS,
                      work_hours=s.BOOKING_WORK_HOURS, slot_minutes=s.BOOKING_SLOT_MINUTES,
                      min_notice_hours=s.BOOKING_MIN_NOTICE_HOURS, tz=s.BOOKING_TIMEZONE, limit=SLOTS_OFFERED)


def slots_reply(deps: Runtime, slots: list[datetime], channel: str, intro: str) -> OutgoingReply:
    tz = deps.settings.BOOKING_TIMEZONE
    if not slots:
        text = (intro + " В ближайшие дни свободного времени нет. Нажмите «Другое время» и напишите, когда вам "
                "удобно, — менеджер подберёт время.")
        return OutgoingReply(text=text, buttons=[] if channel == "avito" else [OTHER_TIME])
    if channel == "avito":  # no buttons on Avito: a manager confirms the time the client names
        listing = "\n".join(f"— {format_datetime(x, tz)}" for x in slots)
        return OutgoingReply(text=f"{intro}\n{listing}\nНапишите, какое время подходит, — менеджер подтвердит.")
    buttons = [{"text": slot_label(x, tz), "callback": f"slot_pick:{x.isoformat()}"} for x in slots]
    return OutgoingReply(text=intro + " Время московское.", buttons=[*buttons, OTHER_TIME])


def _upcoming(session: Session, lead_id: int) -> Booking | None:
    return session.exec(select(Booking).where(Booking.lead_id == lead_id, Booking.status == "confirmed",
                                              col(Booking.starts_at) > now_utc())
                        .order_by(col(Booking.starts_at))).first()


def _callback_request(deps: Runtime, session: Session, lead: Lead) -> list[OutgoingReply]:
    ctx = contact_context(session, lead)
    notify_not_configured(session, lead, service="google_calendar",
                          message="Google Calendar не настроен (GOOGLE_CALENDAR_CREDENTIALS): клиенты не могут "
                                  "записаться сами, менеджер договаривается о времени по телефону.")
    notify_managers(session, lead, key=f"notify:callback:{lead.id}:{now_utc():%Y%m%d}", event="callback_request",
                    client_name=ctx["client_name"], phone=ctx["phone"], email=ctx["email"],
                    summary=f"Клиент {ctx['client_name']} хочет консультацию: перезвоните и договоритесь о времени.")
    if ctx["phone"]:
        return [OutgoingReply(text=f"Менеджер позвонит вам по номеру {ctx['phone']} в рабочее время и договорится "
                                   "об удобном времени консультации.")]
    return [OutgoingReply(text="Оставьте, пожалуйста, номер телефона — менеджер перезвонит и договорится об удобном "
                               "времени консультации.")]


def handle_offer(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                 data: dict[str, Any]) -> list[OutgoingReply]:
    """The "booking" action: offer free slots (or a call back without a calendar)."""
    assert lead.id is not None
    if not deps.settings.gcal_configured:
        return _callback_request(deps, session, lead)
    channel = conversation.channel if conversation else lead.channel
    try:
        slots = find_slots(deps, session)
    except NotConfigured as exc:
        notify_not_configured(session, lead, service="google_calendar", message=exc.message)
        return _callback_request(deps, session, lead)
    if conversation is not None:  # remembered for picks by number (Avito has no buttons)
        session.refresh(conversation, with_for_update=True)
        state = DialogState.load(conversation.state)
        state.booking_slots, state.booking_offered_at = list(slots), now_utc()
        conversation.state = state.dump()
        session.add(conversation)
    current = _upcoming(session, lead.id)
    if current is not None:
        when = format_datetime(current.starts_at, deps.settings.BOOKING_TIMEZONE)
        intro = f"Сейчас вы записаны на {when}. Выберите новое время — старая запись отменится автоматически:"
    else:
        intro = f"Выберите удобное время консультации ({deps.settings.BOOKING_SLOT_MINUTES} минут, онлайн):"
    return [slots_reply(deps, slots, channel, intro)]


def _valid_start(deps: Runtime, start: datetime) -> bool:
    s = deps.settings
    zone = ZoneInfo(s.BOOKING_TIMEZONE)
    local = start.astimezone(zone)
    day_start, day_end = parse_work_hours(s.BOOKING_WORK_HOURS)
    opening = datetime.combine(local.date(), day_start, tzinfo=zone)
    closing = datetime.combine(local.date(), day_end, tzinfo=zone)
    step = timedelta(minutes=s.BOOKING_SLOT_MINUTES)
    on_grid = (local - opening) % step == timedelta(0)
    return (str(local.isoweekday()) in {str(d) for d in s.BOOKING_WORK_DAYS} and opening <= local
            and local + step <= closing and on_grid
            and start >= now_utc() + timedelta(hours=s.BOOKING_MIN_NOTICE_HOURS))


def _taken(deps: Runtime, session: Session, channel: str, start: datetime, reason: str) -> list[OutgoingReply]:
    logger.info("slot {} not booked: {}", start.isoformat(), reason)
    slots = find_slots(deps, session, exclude={start})
    return [slots_reply(deps, slots, channel, "Увы, это время уже занято. Вот свободные варианты:")]


def _confirmed_reply(deps: Runtime, booking: Booking) -> OutgoingReply:
    when = format_datetime(booking.starts_at, deps.settings.BOOKING_TIMEZONE)
    return OutgoingReply(
        text=f"Готово! Вы записаны на консультацию: {when}. Напомню за сутки и за час до начала.",
        buttons=reminders.booking_buttons(booking.id or 0))


def handle_confirm(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                   data: dict[str, Any]) -> list[OutgoingReply]:
    """The "booking_confirm" action: book ``data["start"]`` for the lead, or offer fresh slots."""
    assert lead.id is not None
    channel = conversation.channel if conversation else lead.channel
    if not deps.settings.gcal_configured:
        return _callback_request(deps, session, lead)
    try:
        return _confirm(deps, session, lead, channel, data)
    except NotConfigured as exc:  # e.g. an unreadable key file
        notify_not_configured(session, lead, service="google_calendar", message=exc.message)
        return _callback_request(deps, session, lead)


def _confirm(deps: Runtime, session: Session, lead: Lead, channel: str,
             data: dict[str, Any]) -> list[OutgoingReply]:
    assert lead.id is not None
    start = parse_slot(str(data.get("start") or ""))
    if start is None:
        return [OutgoingReply(text="Не получилось разобрать время. Выберите, пожалуйста, слот из списка.")]
    mine = session.exec(select(Booking).where(Booking.lead_id == lead.id, Booking.starts_at == start,
                                              Booking.status == "confirmed")).first()
    if mine is not None:  # a retried action or a second press: the booking stands
        return [_confirmed_reply(deps, mine)]
    if not _valid_start(deps, start):
        return _taken(deps, session, channel, start, "outside working hours or too soon")
    settings = deps.settings
    end = start + timedelta(minutes=settings.BOOKING_SLOT_MINUTES)
    lock_key, token = f"voronka:booking:slot:{start.astimezone(ZoneInfo('UTC')).isoformat()}", secrets.token_hex(8)
    redis = deps.redis
    if redis is None:
        raise RuntimeError("booking a slot needs Redis (the slot lock)")
    if not redis.set(lock_key, token, nx=True, px=LOCK_MS):
        return _taken(deps, session, channel, start, "locked by another booking")
    try:
        other = session.exec(select(Booking.id).where(Booking.starts_at == start,
                                                      Booking.status == "confirmed")).first()
        if other is not None:
            return _taken(deps, session, channel, start, "already booked in our database")
        busy = _with_calendar(deps, lambda c: c.free_busy(start, end, settings.BOOKING_TIMEZONE))
        if overlaps(start, end, busy):
            return _taken(deps, session, channel, start, "busy in the calendar")
        booking = Booking(lead_id=lead.id, starts_at=start, ends_at=end, status="confirmed")
        try:
            with session.begin_nested():
                session.add(booking)
                session.flush()
        except IntegrityError:
            return _taken(deps, session, channel, start, "unique index")
        ctx = contact_context(session, lead)
        description = "\n".join(x for x in (
            f"Клиент: {ctx['client_name']}", f"Телефон: {ctx['phone']}" if ctx["phone"] else "",
            f"Email: {ctx['email']}" if ctx["email"] else "", f"Продукт: {ctx['product']}" if ctx["product"] else "",
            f"Канал: {channel}", f"Лид в «Воронке»: #{lead.id}") if x)
        summary = f"Консультация: {ctx['client_name']}" + (f" ({ctx['product']})" if ctx["product"] else "")
        event = _with_calendar(deps, lambda c: c.insert_event(summary, description, start, end,
                                                              settings.BOOKING_TIMEZONE))
        booking.calendar_event_id = event["id"]
        session.add(booking)
    finally:
        redis.eval(_RELEASE_LUA, 1, lock_key, token)
    assert booking.id is not None
    previous = session.exec(select(Booking).where(Booking.lead_id == lead.id, Booking.status == "confirmed",
                                                  Booking.id != booking.id, col(Booking.starts_at) > now_utc())).all()
    for old in previous:  # one upcoming consultation per lead: this one moves it
        _cancel(deps, session, lead, old, reason=f"перенос на {format_datetime(start, settings.BOOKING_TIMEZONE)}",
                notify_client=False)
    advance_stage(session, lead, Stage.BOOKED, channel=channel)
    record_event(session, lead_id=lead.id, kind="booking_made", channel=channel,
                 data={"booking_id": booking.id, "starts_at": start.isoformat(), "source": lead.source_tag,
                       "moved_from": [b.id for b in previous]})
    reminders.schedule_booking_reminders(session, booking)
    nps.schedule_after_consultation(session, settings, booking)
    queue_both(session, lead, key=f"email:booking_made:{booking.id}", event="booking_made",
               ctx={**ctx, "start": start, "duration_minutes": settings.BOOKING_SLOT_MINUTES,
                    "calendar_url": event.get("htmlLink")})
    queue_action(session, lead, key=f"crm:booking:{booking.id}", action="crm_update",
                 data={"event": "booking", "text": f"Консультация записана: "
                                                   f"{format_datetime(start, settings.BOOKING_TIMEZONE)}"})
    logger.bind(lead_id=lead.id).info("booking {} confirmed", booking.id)
    return [_confirmed_reply(deps, booking)]


def _cancel(deps: Runtime, session: Session, lead: Lead, booking: Booking, *, reason: str | None,
            notify_client: bool) -> None:
    assert booking.id is not None
    if booking.calendar_event_id and deps.settings.gcal_configured:
        event_id = booking.calendar_event_id
        try:
            _with_calendar(deps, lambda c: c.delete_event(event_id))
        except GoogleAPIError as exc:
            if exc.status_code != 404:
                raise
            logger.info("calendar event of booking {} not found: counts as deleted", booking.id)
    booking.status = "cancelled"
    session.add(booking)
    session.flush()
    reminder_schedule.cancel(session, kinds=(*reminder_schedule.BOOKING_KINDS, "nps_booking"), ref_id=booking.id)
    settings = deps.settings
    ctx = {**contact_context(session, lead), "start": booking.starts_at, "reason": reason}
    if notify_client:
        queue_both(session, lead, key=f"email:booking_cancelled:{booking.id}", event="booking_cancelled", ctx=ctx)
    else:
        queue_email(session, lead, key=f"email:booking_cancelled:{booking.id}:manager", event="booking_cancelled",
                    audience="manager", ctx=ctx)
    record_event(session, lead_id=lead.id, kind="booking_cancelled", channel=None,
                 data={"booking_id": booking.id, "reason": reason, "source": lead.source_tag})
    queue_action(session, lead, key=f"crm:booking_cancelled:{booking.id}", action="crm_update",
                 data={"event": "booking_cancelled",
                       "text": f"Консультация {format_datetime(booking.starts_at, settings.BOOKING_TIMEZONE)} "
                               f"отменена" + (f" ({reason})" if reason else "")})


def handle_cancel(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                  data: dict[str, Any]) -> list[OutgoingReply]:
    booking = session.exec(select(Booking).where(Booking.id == int(data.get("booking_id") or 0))
                           .with_for_update()).first()
    if booking is None or booking.lead_id != lead.id:
        return [OutgoingReply(text="Не нашёл такую запись. Если нужна помощь — напишите, подскажу.")]
    again = [{"text": "Записаться снова", "callback": "book"}]
    when = format_datetime(booking.starts_at, deps.settings.BOOKING_TIMEZONE)
    if booking.status != "confirmed":
        return [OutgoingReply(text=f"Запись на {when} уже отменена.", buttons=again)]
    _cancel(deps, session, lead, booking, reason="отменена клиентом", notify_client=True)
    return [OutgoingReply(text=f"Запись на {when} отменена. Если захотите выбрать другое время — нажмите "
                               "«Записаться снова» или просто напишите.", buttons=again)]
