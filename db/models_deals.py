"""Tables of the deals feature: YooKassa notifications (an inbox), scheduled reminders/surveys, NPS answers.

Also one index on a core table: at most one *confirmed* booking per start time (``uq_bookings_confirmed_start``),
the database half of "a slot is never booked twice" (the other half is a Redis lock per slot).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field, SQLModel

from db.models import Booking, utcnow


def _ts(nullable: bool = False, default: bool = True) -> Any:
    return Field(default_factory=utcnow if default else None, sa_type=sa.DateTime(timezone=True),
                 nullable=nullable)


CONFIRMED_START_INDEX = sa.Index(
    "uq_bookings_confirmed_start", Booking.__table__.c.starts_at,  # type: ignore[attr-defined]
    unique=True, postgresql_where=sa.text("status = 'confirmed'"))


class PaymentNotification(SQLModel, table=True):
    """A YooKassa notification as received (not trusted: it is confirmed by ``GET /payments/{id}`` in a job)."""

    __tablename__ = "payment_notifications"
    __table_args__ = (sa.UniqueConstraint("provider_id", "event", name="uq_payment_notification_event"),)
    id: int | None = Field(default=None, primary_key=True)
    provider_id: str
    event: str  # payment.succeeded | payment.canceled | payment.waiting_for_capture | refund.succeeded
    payload: dict[str, Any] = Field(default_factory=dict, sa_type=JSONB, nullable=False)
    remote_ip: str | None = None
    received_at: datetime = _ts()
    processed_at: datetime | None = _ts(nullable=True, default=False)
    outcome: str | None = None  # applied | unchanged | contradicted | unknown_payment


class Reminder(SQLModel, table=True):
    """One scheduled message: booking reminders (client 24 h / 1 h, manager e-mail) and NPS surveys.

    Found by the periodic jobs when due; ``(kind, ref_id)`` is unique so scheduling twice is a no-op.
    """

    __tablename__ = "deal_reminders"
    __table_args__ = (
        sa.UniqueConstraint("kind", "ref_id", name="uq_deal_reminder_kind_ref"),
        sa.Index("ix_deal_reminders_due", "due_at", postgresql_where=sa.text("status = 'pending'")),
    )
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    kind: str  # booking_24h | booking_1h | booking_manager | nps_payment | nps_booking
    ref_id: int  # the booking or payment id
    due_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    status: str = "pending"  # pending | sent | cancelled | skipped
    sent_at: datetime | None = _ts(nullable=True, default=False)
    created_at: datetime = _ts()


class NpsAnswer(SQLModel, table=True):
    __tablename__ = "nps_answers"
    __table_args__ = (sa.UniqueConstraint("lead_id", "survey_id", name="uq_nps_answer_survey"),)
    id: int | None = Field(default=None, primary_key=True)
    lead_id: int = Field(foreign_key="leads.id", index=True)
    survey_id: int = Field(foreign_key="deal_reminders.id")
    score: int
    channel: str | None = None
    created_at: datetime = _ts()
