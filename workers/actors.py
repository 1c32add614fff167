"""Thin actors: each names itself, its queue, retries and time limit, and calls one pipeline function.

Import this module only after ``workers.broker.setup_broker`` (actors bind to the global broker on declaration).
"""

from __future__ import annotations

import dramatiq

from pipelines.conversation import MessageNotFound, handle_inbound
from pipelines.delivery import deliver
from pipelines.sweeper import sweep
from workers.context import runtime


@dramatiq.actor(actor_name="inbound.handle", queue_name="inbound", max_retries=3, time_limit=60_000,
                throws=(MessageNotFound,))
def handle_inbound_message(message_id: int) -> None:
    for outbox_id in handle_inbound(runtime().deps, message_id):
        deliver_outbox.send(outbox_id)


@dramatiq.actor(actor_name="outbox.deliver", queue_name="delivery", max_retries=3, time_limit=60_000)
def deliver_outbox(outbox_id: int) -> None:
    deliver(runtime().deps.engine, outbox_id, runtime().senders)


@dramatiq.actor(actor_name="maintenance.sweep", queue_name="maintenance", max_retries=0, time_limit=60_000)
def sweep_inbox() -> None:
    rt = runtime()
    result = sweep(rt.deps.engine, older_than_seconds=rt.settings.VORONKA_INBOX_SWEEP_SECONDS)
    for message_id in result.inbox:
        handle_inbound_message.send(message_id)
    for outbox_id in result.outbox:
        deliver_outbox.send(outbox_id)
