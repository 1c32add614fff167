"""Enqueue by actor name without importing the actors (the web receiver and the scheduler use this)."""

from __future__ import annotations

from typing import Any

import dramatiq

QUEUES = {
    "inbound.handle": "inbound",
    "outbox.deliver": "delivery",
    "maintenance.sweep": "maintenance",
}


def enqueue(broker: dramatiq.Broker, actor_name: str, *args: Any, queue: str | None = None,
            **options: Any) -> dramatiq.Message[Any]:
    message: dramatiq.Message[Any] = dramatiq.Message(
        queue_name=queue or QUEUES[actor_name], actor_name=actor_name, args=args, kwargs={}, options=options)
    return broker.enqueue(message)
