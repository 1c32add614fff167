"""What a pipeline needs to queue work for the workers: an ``Enqueuer``, passed in by the entry point.

``workers.enqueue.DramatiqEnqueuer`` implements it over the Dramatiq broker. Pipelines name the actor and pass ids
only (the state lives in Postgres); ``lead_id`` travels in the message options (dead letters name their lead).
"""

from __future__ import annotations

from typing import Protocol

JobArg = int | str  # an actor's arguments are ids (a row id, a provider's payment id)


class Enqueuer(Protocol):
    def enqueue(self, actor_name: str, *args: JobArg, queue: str | None = None,
                lead_id: int | None = None) -> None:
        """Queue one message for ``actor_name`` (on its usual queue unless ``queue`` is given). Blocks on Redis."""

    async def enqueue_async(self, actor_name: str, *args: JobArg, queue: str | None = None,
                            lead_id: int | None = None) -> None:
        """The same from asyncio code (aiohttp/aiogram handlers), without blocking the event loop."""
