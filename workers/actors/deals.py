"""Actors of the deals feature (queue "deals"): payment checks, polling, link expiry, reminders, NPS surveys.

Each is a thin call into ``pipelines.integrate``; each is idempotent (row locks, status checks, unique outbox keys),
so a retried or duplicated message changes nothing twice. Outbox rows they write go out through ``dispatch_outbox``.
"""

from __future__ import annotations

from pipelines.integrate import payments, reminders
from pipelines.runtime import Runtime
from workers.actors.outbox import dispatch_outbox
from workers.context import runtime
from workers.policy import job_actor, periodic_actor

QUEUE = "deals"


def _deps() -> Runtime:
    return runtime().deps


@job_actor("deals.payment_check", QUEUE, time_limit_ms=60_000)
def payment_check(provider_id: str, notification_id: int | None = None) -> None:
    """A YooKassa notification arrived (or a client came back): confirm by GET /payments/{id}, then apply."""
    dispatch_outbox(payments.check_payment(_deps(), provider_id, notification_id))


@periodic_actor("deals.poll_payments", QUEUE, time_limit_ms=300_000)
def poll_payments() -> None:
    dispatch_outbox(payments.poll_payments(_deps()))


@periodic_actor("deals.expire_links", QUEUE, time_limit_ms=120_000)
def expire_links() -> None:
    dispatch_outbox(payments.expire_links(_deps()))


@periodic_actor("deals.send_reminders", QUEUE, time_limit_ms=120_000)
def send_reminders() -> None:
    dispatch_outbox(reminders.send_due(_deps(), reminders.BOOKING_KINDS))


@periodic_actor("deals.send_nps", QUEUE, time_limit_ms=120_000)
def send_nps() -> None:
    dispatch_outbox(reminders.send_due(_deps(), reminders.NPS_KINDS))
