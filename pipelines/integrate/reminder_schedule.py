"""The reminder rows (``deal_reminders``): their kinds, scheduling one once, cancelling pending ones.

Shared by ``reminders`` (booking reminders, and the periodic ``send_due``) and ``nps`` (surveys), so neither has to
import the other for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session, col

from db.models_deals import Reminder
from pipelines.integrate.dealkit import now_utc

BOOKING_KINDS = ("booking_24h", "booking_1h", "booking_manager")
NPS_KINDS = ("nps_payment", "nps_booking")


def schedule(session: Session, *, lead_id: int, kind: str, ref_id: int, due_at: datetime) -> None:
    """Add a reminder once (a second call for the same kind and booking/payment is a no-op)."""
    session.execute(insert(Reminder.__table__).values(  # type: ignore[attr-defined]
        lead_id=lead_id, kind=kind, ref_id=ref_id, due_at=due_at, status="pending", created_at=now_utc())
        .on_conflict_do_nothing(index_elements=["kind", "ref_id"]))


def cancel(session: Session, *, kinds: Iterable[str], ref_id: int) -> None:
    session.execute(update(Reminder).where(col(Reminder.kind).in_(list(kinds)), col(Reminder.ref_id) == ref_id,
                                           col(Reminder.status) == "pending").values(status="cancelled"))
