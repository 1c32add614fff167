"""Actors of the channels feature (Avito, Telegram, the managers' chat). Thin: each calls pipeline functions."""

from __future__ import annotations

import dramatiq
from loguru import logger

from pipelines.channels.inbound import after_turn, prepare
from pipelines.channels.manager import handle_manager_update
from pipelines.conversation import MessageNotFound, handle_inbound
from pipelines.delivery import deliver
from voronka.errors import NotConfigured, UpstreamError
from workers.actors import deliver_outbox, dispatch_outbox
from workers.context import runtime
from workers.jobs_channels import TOKEN_CHECK_SECONDS
from workers.senders import channel_clients


def deliver_in_order(rows: list[tuple[int, str]]) -> None:
    """Send a turn's replies one after another from this job (parallel delivery jobs could reorder them in the
    client's chat); anything that fails here, and every other kind of row, goes to the queue as usual."""
    rt = runtime()
    queued: list[tuple[int, str]] = []
    for outbox_id, kind in rows:
        if kind != "message":
            queued.append((outbox_id, kind))
            continue
        try:
            deliver(rt.deps.engine, outbox_id, rt.senders)
        except dramatiq.Retry as exc:  # a long Retry-After: wait in the queue, not here
            deliver_outbox.send_with_options(args=(outbox_id,), delay=exc.delay)
        except Exception as exc:
            logger.warning("outbox {} not delivered inline ({}): the delivery queue retries it", outbox_id,
                           type(exc).__name__)
            queued.append((outbox_id, kind))
    dispatch_outbox(queued)


@dramatiq.actor(actor_name="channels.inbound", queue_name="inbound", max_retries=3, time_limit=90_000,
                throws=(MessageNotFound,))
def handle_channel_message(message_id: int) -> None:
    rt = runtime()
    prepared = prepare(rt.deps, channel_clients(rt), message_id)
    deliver_in_order(handle_inbound(rt.deps, message_id))
    after_turn(rt.deps, prepared)


@dramatiq.actor(actor_name="channels.manager_update", queue_name="inbound", max_retries=3, time_limit=60_000)
def handle_manager_chat_update(update_row_id: int) -> None:
    rt = runtime()
    outcome = handle_manager_update(rt.deps.engine, update_row_id)
    deliver_in_order(outcome.outbox)
    if outcome.callback_query_id:
        clients = channel_clients(rt)

        async def answer() -> None:
            sender = await clients.telegram()
            await sender.answer_callback(outcome.callback_query_id or "", outcome.callback_text)

        try:
            clients.run(answer())
        except (UpstreamError, NotConfigured) as exc:
            logger.warning("managers' chat: button press not answered: {}", exc)


@dramatiq.actor(actor_name="avito.refresh_token", queue_name="maintenance", max_retries=0, time_limit=60_000)
def refresh_avito_token() -> None:
    from pipelines.channels.clients import avito_configured

    rt = runtime()
    if not avito_configured(rt.settings):
        return
    clients = channel_clients(rt)

    async def refresh() -> float:
        from pipelines.channels.tokens import keep_token_fresh

        client = await clients.avito()
        await keep_token_fresh(client, within=TOKEN_CHECK_SECONDS)
        return await client.seconds_until_refresh()

    left = clients.run(refresh())
    logger.info("avito token valid; next refresh window in {:.0f}s", left)


@dramatiq.actor(actor_name="channels.merge_sweep", queue_name="maintenance", max_retries=0, time_limit=60_000)
def merge_same_contacts() -> None:
    from pipelines.channels.identity import merge_duplicates

    merged = merge_duplicates(runtime().deps)
    if merged:
        logger.info("merged {} lead(s) of the same client", merged)


@dramatiq.actor(actor_name="channels.forward_held", queue_name="maintenance", max_retries=0, time_limit=60_000)
def forward_held() -> None:
    from pipelines.channels.manager import forward_held_messages

    dispatch_outbox(forward_held_messages(runtime().deps.engine))
