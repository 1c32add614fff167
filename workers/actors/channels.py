"""Actors of the channels feature (Avito, Telegram, the managers' chat). Thin: each calls pipeline functions."""

from __future__ import annotations

import dramatiq
from loguru import logger

from pipelines.channels.identity import merge_duplicates
from pipelines.channels.inbound import after_turn, prepare
from pipelines.channels.manager import forward_held_messages, handle_manager_update
from pipelines.channels.tokens import keep_token_fresh
from pipelines.conversation import MessageNotFound, handle_inbound
from pipelines.delivery import deliver
from voronka.errors import NotConfigured, UpstreamError
from workers.actors.outbox import deliver_outbox, dispatch_outbox
from workers.context import runtime
from workers.periodic import TOKEN_CHECK_SECONDS
from workers.policy import job_actor, periodic_actor
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


@job_actor("channels.inbound", "inbound", time_limit_ms=90_000, throws=(MessageNotFound,))
def handle_channel_message(message_id: int) -> None:
    rt = runtime()
    prepared = prepare(rt.deps, channel_clients(rt), message_id)
    deliver_in_order(handle_inbound(rt.deps, message_id))
    after_turn(rt.deps, prepared)


@job_actor("channels.manager_update", "inbound", time_limit_ms=60_000)
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


@periodic_actor("avito.refresh_token", "maintenance", time_limit_ms=60_000)
def refresh_avito_token() -> None:
    rt = runtime()
    if not rt.settings.avito_configured:
        return
    clients = channel_clients(rt)

    async def refresh() -> float:
        client = await clients.avito()
        await keep_token_fresh(client, within=TOKEN_CHECK_SECONDS)
        return await client.seconds_until_refresh()

    left = clients.run(refresh())
    logger.info("avito token valid; next refresh window in {:.0f}s", left)


@periodic_actor("channels.merge_sweep", "maintenance", time_limit_ms=60_000)
def merge_same_contacts() -> None:
    merged = merge_duplicates(runtime().deps)
    if merged:
        logger.info("merged {} lead(s) of the same client", merged)


@periodic_actor("channels.forward_held", "maintenance", time_limit_ms=60_000)
def forward_held() -> None:
    dispatch_outbox(forward_held_messages(runtime().deps.engine))
