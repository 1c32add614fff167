"""Enqueue by actor name without importing the actors (the web receiver and the scheduler use this)."""

from __future__ import annotations

from typing import Any

import dramatiq

# Every inbound message (any channel) goes to the channel-aware actor: channel steps, the pipeline, ordered delivery.
INBOUND_ACTOR = "channels.inbound"

QUEUES = {
    "inbound.handle": "inbound",
    "channels.inbound": "inbound",
    "outbox.deliver": "delivery",
    "maintenance.sweep": "maintenance",
    "integrate.action": "integrate",
    "document.render": "documents",
}


def enqueue(broker: dramatiq.Broker, actor_name: str, *args: Any, queue: str | None = None,
            **options: Any) -> dramatiq.Message[Any]:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue or QUEUES[actor_name], actor_name=actor_name, args=args, kwargs={}, options=options)
    return broker.enqueue(message)


class AsyncEnqueuer:
    """Enqueue onto a Dramatiq ``RedisBroker`` from asyncio without blocking the event loop.

    It runs the broker's own ``dispatch`` Lua script with the same arguments ``RedisBroker.enqueue`` uses, through an
    async Redis client, and emits the broker's enqueue hooks, so workers see exactly what ``actor.send`` would produce.
    """

    def __init__(self, broker: Any, redis: Any) -> None:
        from dramatiq.brokers.redis import RedisBroker

        if not isinstance(broker, RedisBroker):
            raise TypeError("AsyncEnqueuer needs a RedisBroker")
        self.broker = broker
        self.script = redis.register_script(broker.scripts["dispatch"].script)

    async def enqueue(self, actor_name: str, *args: Any, queue: str | None = None,
                      **options: Any) -> dramatiq.Message[Any]:
        from uuid import uuid4

        from dramatiq.common import current_millis

        broker = self.broker
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue or QUEUES[actor_name], actor_name=actor_name, args=args, kwargs={}, options=options)
        message = message.copy(options={"redis_message_id": str(uuid4())})
        broker.emit_before("enqueue", message, None)
        await self.script(keys=[broker.namespace], args=[
            "enqueue", current_millis(), message.queue_name, broker.broker_id, broker.heartbeat_timeout,
            broker.dead_message_ttl, broker._should_do_maintenance("enqueue"), broker._max_unpack_size(),
            message.options["redis_message_id"], message.encode()])
        broker.emit_after("enqueue", message, None)
        return message
