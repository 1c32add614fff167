"""Enqueue by actor name without importing the actors (the web receiver, the bot and the scheduler use this).

``DramatiqEnqueuer`` is the ``pipelines.enqueuer.Enqueuer`` the entry points pass to pipelines. It only uses
Dramatiq's public API (``Broker.enqueue(Message(...))``); from asyncio the same call runs in a worker thread
(``asyncio.to_thread``), so an aiohttp/aiogram handler never blocks its event loop on Redis.
"""

from __future__ import annotations

import asyncio
from typing import Any

import dramatiq

from pipelines.enqueuer import JobArg

# Every inbound message (any channel) goes to the channel-aware actor: channel steps, the pipeline, ordered delivery.
INBOUND_ACTOR = "channels.inbound"

QUEUES = {
    "inbound.handle": "inbound",
    "channels.inbound": "inbound",
    "channels.manager_update": "inbound",
    "outbox.deliver": "delivery",
    "maintenance.sweep": "maintenance",
    "integrate.action": "integrate",
    "document.render": "documents",
    "deals.payment_check": "deals",
}


def enqueue(broker: dramatiq.Broker, actor_name: str, *args: Any, queue: str | None = None,
            **options: Any) -> dramatiq.Message[Any]:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue or QUEUES[actor_name], actor_name=actor_name, args=args, kwargs={}, options=options)
    return broker.enqueue(message)


class DramatiqEnqueuer:
    """``pipelines.enqueuer.Enqueuer`` over a Dramatiq broker."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    def enqueue(self, actor_name: str, *args: JobArg, queue: str | None = None, lead_id: int | None = None) -> None:
        options = {"lead_id": lead_id} if lead_id is not None else {}
        enqueue(self.broker, actor_name, *args, queue=queue, **options)

    async def enqueue_async(self, actor_name: str, *args: JobArg, queue: str | None = None,
                            lead_id: int | None = None) -> None:
        await asyncio.to_thread(self.enqueue, actor_name, *args, queue=queue, lead_id=lead_id)
