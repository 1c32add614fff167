"""Scheduled messages kept in Postgres (``deal_reminders``): booking reminders and NPS surveys.

Scheduling is a unique row per (kind, booking/payment id); a periodic job calls ``send_due``, which claims due rows
with ``FOR UPDATE SKIP LOCKED``, writes the messages as outbox rows with unique keys and marks the rows sent in the
same transaction — so a restart loses nothing and two runs never send one reminder twice.

Kinds: ``booking_24h`` / ``booking_1h`` (to the client on their channel), ``booking_manager`` (an e-mail to the
managers 1 h before), ``nps_payment`` / ``nps_booking`` (the survey, see ``pipelines.integrate.nps``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from loguru import logger
from sqlmodel import Session, col, select

from db.engine import session_scope
from db.models import Booking, Lead, Outbox
from db.models_deals import Reminder
from integrations.smtp import format_datetime
from pipelines.integrate.dealkit import contact_context, latest_conversation, now_utc, send_to_client
from pipelines.integrate.emails import queue_email
from pipelines.integrate.nps import send_survey
from pipelines.integrate.reminder_schedule import BOOKING_KINDS, NPS_KINDS, schedule
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime

BOOKING_OFFSETS = {"booking_24h": timedelta(hours=24), "booking_1h": timedelta(hours=1),
                   "booking_manager": timedelta(hours=1)}
BATCH = 100


def schedule_booking_reminders(session: Session, booking: Booking, *, now: datetime | None = None) -> None:
    """24 h and 1 h before for the client, 1 h before for the managers; reminders already in the past are skipped."""
    current = now or now_utc()
    assert booking.id is not None
    for kind, offset in BOOKING_OFFSETS.items():
        due = booking.starts_at - offset
        if due > current:
            schedule(session, lead_id=booking.lead_id, kind=kind, ref_id=booking.id, due_at=due)


def booking_buttons(booking_id: int) -> list[dict[str, str]]:
    return [{"text": "Перенести", "callback": f"booking:move:{booking_id}"},
            {"text": "Отменить запись", "callback": f"booking:cancel:{booking_id}"}]


def _booking_reminder(session: Session, reminder: Reminder, lead: Lead, tz: str) -> list[int]:
    booking = session.get(Booking, reminder.ref_id)
    if booking is None or booking.status != "confirmed" or booking.starts_at <= now_utc():
        reminder.status = "skipped"
        return []
    when = format_datetime(booking.starts_at, tz)
    if reminder.kind == "booking_manager":
        ctx = contact_context(session, lead)
        queue_email(session, lead, key=f"email:booking_reminder:{booking.id}", event="booking_reminder",
                    audience="manager", ctx={**ctx, "start": booking.starts_at,
                                             "duration_minutes": int((booking.ends_at - booking.starts_at)
                                                                     .total_seconds() // 60)})
        return []
    lead_in = "Завтра" if reminder.kind == "booking_24h" else "Через час"
    text = (f"Напоминаю: {lead_in.lower()} консультация — {when}. Менеджер свяжется с вами в назначенное время. "
            "Если планы изменились, можно перенести или отменить запись.")
    buttons = booking_buttons(booking.id or 0)
    if _channel(session, lead) == "avito":
        text += " Напишите «перенести» или «отменить», если нужно."
        buttons = []
    return send_to_client(session, lead, key=f"reminder:{reminder.id}",
                          replies=[OutgoingReply(text=text, buttons=buttons)])


def _channel(session: Session, lead: Lead) -> str | None:
    conversation = latest_conversation(session, lead.id or 0)
    return conversation.channel if conversation else None


def send_due(deps: Runtime, kinds: Iterable[str], *, now: datetime | None = None) -> list[tuple[int, str]]:
    """Send every due reminder of ``kinds``; returns the (outbox id, kind) rows to dispatch."""
    current = now or now_utc()
    kinds = list(kinds)
    written: list[int] = []
    with session_scope(deps.engine) as session:
        due = session.exec(select(Reminder).where(Reminder.status == "pending", col(Reminder.kind).in_(kinds),
                                                  Reminder.due_at <= current)
                           .order_by(col(Reminder.due_at)).limit(BATCH).with_for_update(skip_locked=True)).all()
        for reminder in due:
            lead = session.get(Lead, reminder.lead_id)
            log = logger.bind(lead_id=reminder.lead_id, reminder=reminder.kind)
            if lead is None:
                reminder.status = "skipped"
            elif reminder.kind in BOOKING_KINDS:
                written += _booking_reminder(session, reminder, lead, deps.settings.BOOKING_TIMEZONE)
            elif reminder.kind in NPS_KINDS:
                written += send_survey(session, reminder, lead)
            if reminder.status == "pending":
                reminder.status, reminder.sent_at = "sent", current
            session.add(reminder)
            log.info("reminder {}", reminder.status)
        session.flush()
        lead_ids = {r.lead_id for r in due}
        rows = session.exec(select(Outbox.id, Outbox.kind).where(
            Outbox.status == "pending", col(Outbox.lead_id).in_(lead_ids))).all() if lead_ids else []
    return [(int(i), str(k)) for i, k in rows if i is not None]
