"""Periodic jobs of the deals feature: each only enqueues its actor (the state lives in Postgres)."""

from __future__ import annotations

from voronka.settings import Settings

QUEUE = "deals"


def jobs(settings: Settings) -> list[tuple[str, str, str, int]]:
    return [
        ("deals-payment-poll", "deals.poll_payments", QUEUE, settings.PAYMENT_POLL_SECONDS),
        ("deals-link-expiry", "deals.expire_links", QUEUE, 60),
        ("deals-booking-reminders", "deals.send_reminders", QUEUE, 60),
        ("deals-nps-surveys", "deals.send_nps", QUEUE, 300),
    ]
