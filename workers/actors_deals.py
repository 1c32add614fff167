"""Actors of the deals feature (queue "deals"): payment checks, polling, link expiry, reminders, NPS surveys.

Each is a thin call into ``pipelines.integrate``; each is idempotent (row locks, status checks, unique outbox keys),
so a retried or duplicated message changes nothing twice. Outbox rows they write go out through ``dispatch_outbox``.
"""

from __future__ import annotations

import dramatiq

from pipelines.conversation import PipelineDeps
from pipelines.integrate import payments, reminders
from workers.actors import dispatch_outbox
from workers.context import runtime

QUEUE = "deals"


def _deps() -> PipelineDeps:
    rt = runtime()
    rt.deps.extras.setdefault("redis_url", rt.redis_url)
    return rt.deps


@dramatiq.actor(actor_name="deals.payment_check", queue_name=QUEUE, max_retries=5, time_limit=60_000)
def payment_check(provider_id: str, notification_id: int | None = None) -> None:
    """A YooKassa notification arrived (or a client came back): confirm by GET /payments/{id}, then apply."""
    dispatch_outbox(payments.check_payment(_deps(), provider_id, notification_id))


@dramatiq.actor(actor_name="deals.poll_payments", queue_name=QUEUE, max_retries=0, time_limit=300_000)
def poll_payments() -> None:
    dispatch_outbox(payments.poll_payments(_deps()))


@dramatiq.actor(actor_name="deals.expire_links", queue_name=QUEUE, max_retries=0, time_limit=120_000)
def expire_links() -> None:
    dispatch_outbox(payments.expire_links(_deps()))


@dramatiq.actor(actor_name="deals.send_reminders", queue_name=QUEUE, max_retries=0, time_limit=120_000)
def send_reminders() -> None:
    dispatch_outbox(reminders.send_due(_deps(), reminders.BOOKING_KINDS))


@dramatiq.actor(actor_name="deals.send_nps", queue_name=QUEUE, max_retries=0, time_limit=120_000)
def send_nps() -> None:
    dispatch_outbox(reminders.send_due(_deps(), reminders.NPS_KINDS))
