"""Thin actors: each names itself, its queue, retries and time limit, and calls one pipeline function.

Import this module only after ``workers.broker.setup_broker`` (actors bind to the global broker on declaration).
"""

from __future__ import annotations

import dramatiq

from pipelines.conversation import MessageNotFound, handle_inbound
from pipelines.delivery import deliver
from pipelines.integrate.dispatch import run_action
from pipelines.sweeper import sweep
from workers.context import runtime
from workers.enqueue import INBOUND_ACTOR, enqueue


def dispatch_outbox(rows: list[tuple[int, str]]) -> None:
    """Send each pending outbox row to the actor that performs its kind (after the transaction committed)."""
    for outbox_id, kind in rows:
        if kind == "action":
            perform_action.send(outbox_id)
        elif kind == "document":
            render_document.send(outbox_id)
        else:
            deliver_outbox.send(outbox_id)


@dramatiq.actor(actor_name="inbound.handle", queue_name="inbound", max_retries=3, time_limit=60_000,
                throws=(MessageNotFound,))
def handle_inbound_message(message_id: int) -> None:
    dispatch_outbox(handle_inbound(runtime().deps, message_id))


@dramatiq.actor(actor_name="outbox.deliver", queue_name="delivery", max_retries=3, time_limit=60_000)
def deliver_outbox(outbox_id: int) -> None:
    deliver(runtime().deps.engine, outbox_id, runtime().senders)


@dramatiq.actor(actor_name="maintenance.sweep", queue_name="maintenance", max_retries=0, time_limit=60_000)
def sweep_inbox() -> None:
    rt = runtime()
    result = sweep(rt.deps.engine, older_than_seconds=rt.settings.VORONKA_INBOX_SWEEP_SECONDS)
    broker = dramatiq.get_broker()
    for message_id in result.inbox:
        enqueue(broker, INBOUND_ACTOR, message_id)
    dispatch_outbox(result.outbox)


@dramatiq.actor(actor_name="integrate.action", queue_name="integrate", max_retries=3, time_limit=120_000)
def perform_action(outbox_id: int) -> None:
    dispatch_outbox(run_action(runtime().deps, outbox_id))


@dramatiq.actor(actor_name="document.render", queue_name="documents", max_retries=3, time_limit=120_000)
def render_document(outbox_id: int) -> None:
    """КП / contract / invoice as PDF (the outbox row's "document" action); no duplicate on retry."""
    dispatch_outbox(run_action(runtime().deps, outbox_id))
