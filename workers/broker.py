"""The Dramatiq broker, set up in one place. Import actors (``workers.actors``) only after ``setup_broker``."""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from voronka.settings import Settings
from workers.dead_letters import DeadLetters

MIN_BACKOFF_MS = 1_000
MAX_BACKOFF_MS = 60_000


def setup_broker(settings: Settings, *, database_url: str, redis_url: str) -> RedisBroker:
    """Create the Redis broker with our middleware and make it the global one.

    The heartbeat timeout decides how soon a killed worker's unacknowledged messages go back to the queue.
    """
    middleware: list[dramatiq.Middleware] = [
        AgeLimit(),
        TimeLimit(time_limit=120_000),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(max_retries=settings.MAX_RETRIES, min_backoff=MIN_BACKOFF_MS, max_backoff=MAX_BACKOFF_MS),
        CurrentMessage(),
        DeadLetters(database_url),
    ]
    broker = RedisBroker(
        url=redis_url,
        middleware=middleware,
        namespace="voronka",
        heartbeat_timeout=settings.VORONKA_ACK_TIMEOUT_SECONDS * 1000,
        maintenance_chance=50_000,  # 5 % of commands also requeue messages of dead workers
    )
    dramatiq.set_broker(broker)
    return broker


ACTOR_MODULES = ("workers.actors", "workers.actors_channels", "workers.actors_deals", "workers.actors_knowledge",
                 "workers.actors_ops")


def load_actors() -> None:
    """Declare every actor on the current broker (import for side effects, after setup_broker)."""
    import importlib

    for name in ACTOR_MODULES:
        importlib.import_module(name)
