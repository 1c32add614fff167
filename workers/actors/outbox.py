"""Actors that carry outbox rows out — delivery, integration actions, documents — and the sweeper that sends again
what was left behind (inbox rows included); ``dispatch_outbox`` hands each row to its actor."""

from __future__ import annotations

import dramatiq

from pipelines.delivery import deliver
from pipelines.integrate.dispatch import run_action
from pipelines.sweeper import sweep
from workers.context import runtime
from workers.enqueue import INBOUND_ACTOR, enqueue
from workers.policy import job_actor, periodic_actor


def dispatch_outbox(rows: list[tuple[int, str]]) -> None:
    """Send each pending outbox row to the actor that performs its kind (after the transaction committed)."""
    for outbox_id, kind in rows:
        if kind == "action":
            perform_action.send(outbox_id)
        elif kind == "document":
            render_document.send(outbox_id)
        else:
            deliver_outbox.send(outbox_id)


@job_actor("outbox.deliver", "delivery", time_limit_ms=60_000)
def deliver_outbox(outbox_id: int) -> None:
    deliver(runtime().deps.engine, outbox_id, runtime().senders)


@periodic_actor("maintenance.sweep", "maintenance", time_limit_ms=60_000)
def sweep_inbox() -> None:
    rt = runtime()
    result = sweep(rt.deps.engine, older_than_seconds=rt.settings.VORONKA_INBOX_SWEEP_SECONDS)
    broker = dramatiq.get_broker()
    for message_id in result.inbox:
        enqueue(broker, INBOUND_ACTOR, message_id)
    dispatch_outbox(result.outbox)


@job_actor("integrate.action", "integrate", time_limit_ms=120_000)
def perform_action(outbox_id: int) -> None:
    dispatch_outbox(run_action(runtime().deps, outbox_id))


@job_actor("document.render", "documents", time_limit_ms=120_000)
def render_document(outbox_id: int) -> None:
    """КП / contract / invoice as PDF (the outbox row's "document" action); no duplicate on retry."""
    dispatch_outbox(run_action(runtime().deps, outbox_id))
