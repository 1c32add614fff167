"""Bookings against the Google Calendar fake (a real service-account JWT): slots within working hours, two clients
racing for one slot, cancel (410 counts as done), move, reminders from the database, no calendar configured."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from db.models import Booking, Conversation, Event, Lead, Message
from db.models_deals import Reminder
from pipelines.integrate.callbacks import callback_for_text, handle_callback
from pipelines.integrate.reminders import BOOKING_KINDS, send_due
from pipelines.runtime import Runtime
from tests.support.deal_fakes import Fakes
from tests.support.deals import BRIEF, add_action, bot_messages, drain_actions, make_lead, outbox_rows

MSK = ZoneInfo("Europe/Moscow")
pytestmark = pytest.mark.settings(BOOKING_WORK_HOURS="10:00-19:00", BOOKING_WORK_DAYS=["1", "2", "3", "4", "5"])


def slot_buttons(message: Message) -> list[dict[str, str]]:
    return [b for b in message.payload["buttons"] if b["callback"].startswith("slot_pick:")]


def starts(message: Message) -> list[datetime]:
    return [datetime.fromisoformat(b["callback"].split(":", 1)[1]) for b in slot_buttons(message)]


async def offer(deps: Runtime, lead_id: int, conversation_id: int, key: str = "offer") -> Message:
    add_action(deps.engine, lead_id, conversation_id, "booking", {}, key)
    await asyncio.to_thread(drain_actions, deps, lead_id)
    return bot_messages(deps.engine, conversation_id)[-1]


async def pick(deps: Runtime, lead_id: int, conversation_id: int, start: datetime, key: str) -> Message:
    add_action(deps.engine, lead_id, conversation_id, "booking_confirm", {"start": start.isoformat()}, key)
    await asyncio.to_thread(drain_actions, deps, lead_id)
    return bot_messages(deps.engine, conversation_id)[-1]


def confirmed(deps: Runtime) -> list[Booking]:
    with Session(deps.engine) as session:
        return list(session.exec(select(Booking).where(Booking.status == "confirmed")).all())


async def test_five_free_slots_within_working_hours_and_other_time(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    first = await offer(deps, lead_id, conversation_id)
    offered = starts(first)
    assert len(offered) == 5 and first.payload["buttons"][-1] == {"text": "Другое время", "callback": "slot_other"}
    now = datetime.now(MSK)
    for start in offered:
        local = start.astimezone(MSK)
        assert local.isoweekday() <= 5 and 10 <= local.hour <= 18 and local.minute == 0
        assert start >= now + timedelta(hours=deps.settings.BOOKING_MIN_NOTICE_HOURS)
    # a meeting in the calendar takes its slot away
    busy = offered[0]
    fakes.gcal.add_event(busy, busy + timedelta(minutes=60), "Встреча")
    second = await offer(deps, lead_id, conversation_id, "offer-2")
    assert busy not in starts(second) and starts(second)[0] == offered[1]


async def test_two_clients_race_for_one_slot(deps: Runtime, fakes: Fakes) -> None:
    anna = make_lead(deps.engine, chat="anna")
    oleg = make_lead(deps.engine, chat="oleg", brief={**BRIEF, "name": "Олег", "phone": "+79035550000",
                                                      "email": "oleg@example.ru"})
    slot = starts(await offer(deps, *anna))[0]
    for lead_id, conversation_id in (anna, oleg):
        add_action(deps.engine, lead_id, conversation_id, "booking_confirm", {"start": slot.isoformat()},
                   f"race-{lead_id}")
    await asyncio.gather(asyncio.to_thread(drain_actions, deps, anna[0]),
                         asyncio.to_thread(drain_actions, deps, oleg[0]))
    [booking] = confirmed(deps)
    assert booking.starts_at == slot and booking.calendar_event_id in fakes.gcal.events
    assert len([e for e in fakes.gcal.events.values() if e["status"] == "confirmed"]) == 1
    winner, loser = (anna, oleg) if booking.lead_id == anna[0] else (oleg, anna)
    assert "Вы записаны" in bot_messages(deps.engine, winner[1])[-1].text
    lost = bot_messages(deps.engine, loser[1])[-1]
    assert "занято" in lost.text and slot not in starts(lost) and len(starts(lost)) == 5
    with Session(deps.engine) as session:
        lead = session.get(Lead, winner[0])
        assert lead is not None and lead.stage == "booked"
        assert [e.kind for e in session.exec(select(Event).where(Event.kind == "booking_made")).all()] == [
            "booking_made"]


async def test_cancel_move_and_410(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    offered = starts(await offer(deps, lead_id, conversation_id))
    done = await pick(deps, lead_id, conversation_id, offered[0], "pick-1")
    assert "Вы записаны" in done.text
    [booking] = confirmed(deps)
    assert {b["callback"] for b in done.payload["buttons"]} == {f"booking:move:{booking.id}",
                                                                f"booking:cancel:{booking.id}"}
    # a second press of the same slot changes nothing
    again = await pick(deps, lead_id, conversation_id, offered[0], "pick-1b")
    assert "Вы записаны" in again.text and len(confirmed(deps)) == 1 and len(fakes.gcal.events) == 1
    # move: booking another time replaces the first consultation
    moved = await pick(deps, lead_id, conversation_id, offered[2], "pick-2")
    assert "Вы записаны" in moved.text
    [current] = confirmed(deps)
    assert current.starts_at == offered[2]
    assert fakes.gcal.events[booking.calendar_event_id or ""]["status"] == "cancelled"
    # the event was already deleted by hand in the calendar: Google answers 410, the cancel still completes
    fakes.gcal.events[current.calendar_event_id or ""]["status"] = "cancelled"
    add_action(deps.engine, lead_id, conversation_id, "booking_cancel", {"booking_id": current.id}, "cancel")
    await asyncio.to_thread(drain_actions, deps, lead_id)
    assert "отменена" in bot_messages(deps.engine, conversation_id)[-1].text
    assert confirmed(deps) == []
    assert any(r.status == 410 for r in fakes.gcal.requests if r.method == "DELETE")
    with Session(deps.engine) as session:
        reminders = session.exec(select(Reminder).where(col(Reminder.kind).in_(BOOKING_KINDS))).all()
        assert reminders and all(r.status == "cancelled" for r in reminders)
    letters = [(r.payload["data"]["event"], r.payload["data"]["audience"]) for r in outbox_rows(deps.engine, "action")
               if r.payload["action"] == "email"]
    assert ("booking_made", "client") in letters and ("booking_cancelled", "client") in letters


def future_slot(hours_ahead: int) -> datetime:
    """12:00 MSK on the first weekday at least ``hours_ahead`` hours from now."""
    day = (datetime.now(MSK) + timedelta(hours=hours_ahead)).date()
    while True:
        start = datetime(day.year, day.month, day.day, 12, tzinfo=MSK)
        if start.isoweekday() <= 5 and start >= datetime.now(MSK) + timedelta(hours=hours_ahead):
            return start
        day += timedelta(days=1)


async def test_reminders_24h_and_1h_on_the_client_channel(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    slot = future_slot(30)
    assert "Вы записаны" in (await pick(deps, lead_id, conversation_id, slot, "pick")).text
    before = len(bot_messages(deps.engine, conversation_id))
    day_before = slot - timedelta(hours=24) + timedelta(minutes=1)
    await asyncio.to_thread(send_due, deps, BOOKING_KINDS, now=slot - timedelta(hours=25))  # nothing due yet
    assert len(bot_messages(deps.engine, conversation_id)) == before
    await asyncio.to_thread(send_due, deps, BOOKING_KINDS, now=day_before)
    await asyncio.to_thread(send_due, deps, BOOKING_KINDS, now=day_before)  # a second tick sends nothing again
    [reminder] = bot_messages(deps.engine, conversation_id)[before:]
    assert "завтра консультация" in reminder.text and "12:00" in reminder.text
    assert {b["callback"].rsplit(":", 1)[0] for b in reminder.payload["buttons"]} == {"booking:move",
                                                                                      "booking:cancel"}
    hour_before = slot - timedelta(minutes=59)
    await asyncio.to_thread(send_due, deps, BOOKING_KINDS, now=hour_before)
    await asyncio.to_thread(send_due, deps, BOOKING_KINDS, now=hour_before)
    texts = [m.text for m in bot_messages(deps.engine, conversation_id)[before:]]
    assert len(texts) == 2 and "через час консультация" in texts[1]
    managers = [r.payload["data"] for r in outbox_rows(deps.engine, "action", lead_id)
                if r.payload["action"] == "email" and r.payload["data"]["event"] == "booking_reminder"]
    assert len(managers) == 1 and managers[0]["audience"] == "manager"


async def test_without_google_calendar_a_manager_calls_back(deps: Runtime, fakes: Fakes) -> None:
    deps.settings = deps.settings.model_copy(update={"GOOGLE_CALENDAR_CREDENTIALS": ""})
    lead_id, conversation_id = make_lead(deps.engine)
    reply = await offer(deps, lead_id, conversation_id)
    assert "+79161234567" in reply.text and "позвонит" in reply.text
    assert fakes.gcal.requests == []
    events = {r.payload["event"] for r in outbox_rows(deps.engine, "notify", lead_id)}
    assert events == {"not_configured", "callback_request"}


async def test_other_time_hands_the_client_to_a_manager(deps: Runtime) -> None:
    lead_id, conversation_id = make_lead(deps.engine)
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        conversation = session.get(Conversation, conversation_id)
        assert lead is not None and conversation is not None
        replies = handle_callback(deps, session, lead, conversation, "slot_other")
        session.commit()
        assert replies and "удобные день и время" in replies[0].text
        session.refresh(lead)
        assert lead.manager_hold
    assert [r.payload["event"] for r in outbox_rows(deps.engine, "notify", lead_id)] == ["handoff"]


async def test_avito_client_picks_a_slot_by_its_number(deps: Runtime, fakes: Fakes) -> None:
    lead_id, conversation_id = make_lead(deps.engine, channel="avito")
    listing = await offer(deps, lead_id, conversation_id)
    assert listing.payload["buttons"] == [] and "— " in listing.text
    with Session(deps.engine) as session:
        lead = session.get(Lead, lead_id)
        conversation = session.get(Conversation, conversation_id)
        assert lead is not None and conversation is not None
        callback = callback_for_text(session, lead, conversation, "2")
        assert callback == "slot_pick:2"
        assert handle_callback(deps, session, lead, conversation, callback) == []
        session.commit()
    await asyncio.to_thread(drain_actions, deps, lead_id)
    [booking] = confirmed(deps)
    assert "Вы записаны" in bot_messages(deps.engine, conversation_id)[-1].text
    assert booking.calendar_event_id in fakes.gcal.events
    assert booking.starts_at.astimezone(MSK).strftime("%H:%M") in listing.text.split("\n")[2]


async def test_the_database_refuses_a_second_confirmed_booking_of_one_start(deps: Runtime,
                                                                            fakes: Fakes) -> None:
    from sqlalchemy.exc import IntegrityError

    anna, _ = make_lead(deps.engine, chat="anna")
    oleg, oleg_chat = make_lead(deps.engine, chat="oleg")
    slot = future_slot(30)
    with Session(deps.engine) as session:
        session.add(Booking(lead_id=anna, starts_at=slot, ends_at=slot + timedelta(hours=1)))
        session.commit()
        session.add(Booking(lead_id=oleg, starts_at=slot, ends_at=slot + timedelta(hours=1)))
        with pytest.raises(IntegrityError):
            session.commit()
    # the calendar knows nothing of Anna's booking, our database does: Oleg gets other times
    reply = await pick(deps, oleg, oleg_chat, slot, "pick")
    assert "занято" in reply.text and slot not in starts(reply)
    assert fakes.gcal.events == {}


async def test_words_stand_for_booking_buttons_only_where_they_are_meant(deps: Runtime, fakes: Fakes) -> None:
    site_lead, site_chat = make_lead(deps.engine, chat="site")
    avito_lead, avito_chat = make_lead(deps.engine, channel="avito", chat="avito")
    slot = future_slot(30)
    await pick(deps, site_lead, site_chat, slot, "pick-site")
    await pick(deps, avito_lead, avito_chat, slot + timedelta(hours=2), "pick-avito")
    with Session(deps.engine) as session:
        bookings = {b.lead_id: b.id for b in session.exec(select(Booking)).all()}
        site = (session.get(Lead, site_lead), session.get(Conversation, site_chat))
        avito = (session.get(Lead, avito_lead), session.get(Conversation, avito_chat))
        assert site[0] and site[1] and avito[0] and avito[1]
        assert callback_for_text(session, site[0], site[1], "отменить") is None
        cancel_site = callback_for_text(session, site[0], site[1], "Отменить запись")
        assert cancel_site == f"booking:cancel:{bookings[site_lead]}"
        assert callback_for_text(session, avito[0], avito[1], "отменить") == f"booking:cancel:{bookings[avito_lead]}"
        assert callback_for_text(session, avito[0], avito[1], "перенести") == f"booking:move:{bookings[avito_lead]}"
        assert callback_for_text(session, site[0], site[1], "нужна новая ссылка") is None  # no payment yet
