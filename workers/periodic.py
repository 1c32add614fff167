"""Every periodic job: which actor the scheduler enqueues, on which queue, how often. A job only enqueues its actor;
the state lives in Postgres (one-off work — reminders, surveys, link expiry — is stored there and found by these)."""

from __future__ import annotations

from dataclasses import dataclass

from voronka.settings import Settings

SWEEP_SECONDS = 10  # inbox and outbox rows left behind (lost from Redis, a worker killed) are sent again
TOKEN_CHECK_SECONDS = 600  # the Avito token is refreshed in its last hour (a quarter of the life for short tokens)
MERGE_SWEEP_SECONDS = 120
FORWARD_HELD_SECONDS = 5  # client messages of conversations held by a manager → the managers' chat
RESCAN_SECONDS = 60  # knowledge-base hot reload
RETENTION_EVERY_SECONDS = 24 * 3600
DEALS_QUEUE = "deals"


@dataclass(frozen=True)
class PeriodicJob:
    job_id: str
    actor_name: str
    queue: str
    seconds: int


def periodic_jobs(settings: Settings) -> list[PeriodicJob]:
    jobs = [
        PeriodicJob("inbox-sweeper", "maintenance.sweep", "maintenance", SWEEP_SECONDS),
        PeriodicJob("channels-merge-sweep", "channels.merge_sweep", "maintenance", MERGE_SWEEP_SECONDS),
        PeriodicJob("channels-forward-held", "channels.forward_held", "maintenance", FORWARD_HELD_SECONDS),
    ]
    if settings.avito_configured:
        jobs.append(PeriodicJob("avito-token-refresh", "avito.refresh_token", "maintenance", TOKEN_CHECK_SECONDS))
    jobs += [
        PeriodicJob("deals-payment-poll", "deals.poll_payments", DEALS_QUEUE, settings.PAYMENT_POLL_SECONDS),
        PeriodicJob("deals-link-expiry", "deals.expire_links", DEALS_QUEUE, 60),
        PeriodicJob("deals-booking-reminders", "deals.send_reminders", DEALS_QUEUE, 60),
        PeriodicJob("deals-nps-surveys", "deals.send_nps", DEALS_QUEUE, 300),
        PeriodicJob("kb-rescan", "knowledge.rescan", "maintenance", RESCAN_SECONDS),
        PeriodicJob("privacy-retention", "ops.retention_purge", "maintenance", RETENTION_EVERY_SECONDS),
    ]
    return jobs
