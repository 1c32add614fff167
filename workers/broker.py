"""The Dramatiq broker, set up in one place. Import actors (``load_actors``) only after ``setup_broker``."""

from __future__ import annotations

import importlib

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, CurrentMessage, Pipelines, ShutdownNotifications, TimeLimit

from voronka.settings import Settings
from workers.dead_letters import DeadLetters
from workers.policy import FailurePolicy

DEFAULT_TIME_LIMIT_MS = 120_000  # every actor declares its own; this is for a message of an unknown one


def middleware(settings: Settings, *, database_url: str) -> list[dramatiq.Middleware]:
    """Our middleware, in order; the failure policy's give-up goes to the dead letters."""
    dead_letters = DeadLetters(database_url)
    return [
        AgeLimit(),
        TimeLimit(time_limit=DEFAULT_TIME_LIMIT_MS),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        FailurePolicy(settings, on_retry_exhausted=dead_letters.record),
        CurrentMessage(),
        dead_letters,
    ]


def setup_broker(settings: Settings, *, database_url: str, redis_url: str) -> RedisBroker:
    """Create the Redis broker with our middleware and make it the global one.

    The heartbeat timeout decides how soon a killed worker's unacknowledged messages go back to the queue.
    """
    broker = RedisBroker(
        url=redis_url,
        middleware=middleware(settings, database_url=database_url),
        namespace="voronka",
        heartbeat_timeout=settings.VORONKA_ACK_TIMEOUT_SECONDS * 1000,
        maintenance_chance=50_000,  # 5 % of commands also requeue messages of dead workers
    )
    dramatiq.set_broker(broker)
    return broker


ACTOR_MODULES = ("workers.actors.outbox", "workers.actors.channels", "workers.actors.deals", "workers.actors.knowledge",
                 "workers.actors.privacy")


def load_actors() -> None:
    """Declare every actor on the current broker, after setup_broker."""
    for name in ACTOR_MODULES:
        importlib.import_module(name)  # here, not at the top: an actor binds to the global broker as it is declared
