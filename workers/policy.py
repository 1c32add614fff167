"""The one failure policy of every actor.

A job that raises is retried with exponential backoff: up to ``MAX_RETRIES`` times, the first retry after about
``RETRY_MIN_BACKOFF_SECONDS``, each next one twice as late, at most ``RETRY_MAX_BACKOFF_SECONDS`` apart (a
``dramatiq.Retry`` with a delay — a channel's Retry-After — waits that delay instead). A periodic job is not retried:
the scheduler's next tick is its retry. A job that fails for good — its retries exhausted, or it raised an error its
actor ``throws`` (nothing a retry could fix) — goes to ``on_retry_exhausted``: a dead-letter row and a manager alert
(``workers.dead_letters``).

Actors are declared with ``job_actor`` or ``periodic_actor``: a name, a queue and a time limit, nothing about retries.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.actor import ActorDecorator
from dramatiq.middleware import Retries

from voronka.settings import Settings

OnRetryExhausted = Callable[[dramatiq.Broker, dramatiq.MessageProxy, BaseException], None]


class FailurePolicy(Retries):
    """Dramatiq's ``Retries`` with our numbers, plus the one place that notices a job has failed for good."""

    def __init__(self, settings: Settings, on_retry_exhausted: OnRetryExhausted) -> None:
        super().__init__(max_retries=settings.MAX_RETRIES,
                         min_backoff=_ms(settings.RETRY_MIN_BACKOFF_SECONDS),
                         max_backoff=_ms(settings.RETRY_MAX_BACKOFF_SECONDS))
        self.on_retry_exhausted = on_retry_exhausted

    def after_process_message(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, *,
                              result: Any = None, exception: BaseException | None = None) -> None:
        super().after_process_message(broker, message, result=result, exception=exception)
        if exception is None or not message.failed:
            return
        # the dead-lettered copy shows the last attempt's traceback (Retries writes none for a `throws` error)
        message.options["traceback"] = "".join(traceback.format_exception(exception, limit=30))
        self.on_retry_exhausted(broker, message, exception)


def _ms(seconds: float) -> int:
    return max(int(seconds * 1000), 1)


def job_actor(actor_name: str, queue_name: str, *, time_limit_ms: int,
              throws: tuple[type[Exception], ...] = (), broker: dramatiq.Broker | None = None) -> ActorDecorator:
    """An actor doing work that was asked for (a message, an outbox row): retried by the policy. ``throws``: the
    errors that mean there is nothing to retry (the job fails for good at once)."""
    options: dict[str, Any] = {"throws": throws} if throws else {}
    return dramatiq.actor(actor_name=actor_name, queue_name=queue_name, time_limit=time_limit_ms, broker=broker,
                          **options)


def periodic_actor(actor_name: str, queue_name: str, *, time_limit_ms: int,
                   broker: dramatiq.Broker | None = None) -> ActorDecorator:
    """An actor the scheduler fires: never retried (its next tick is the retry); failing, it is a dead letter."""
    return dramatiq.actor(actor_name=actor_name, queue_name=queue_name, time_limit=time_limit_ms, broker=broker,
                          max_retries=0)
