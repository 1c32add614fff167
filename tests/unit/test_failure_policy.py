"""Every actor follows the one failure policy: it declares a name, a queue and a time limit; only what the scheduler
fires opts out of retries; the retry numbers come from settings."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import dramatiq
import dramatiq.broker
import pytest
from dramatiq.brokers.stub import StubBroker

from voronka.settings import Settings
from workers.broker import ACTOR_MODULES, load_actors, middleware
from workers.periodic import periodic_jobs
from workers.policy import FailurePolicy

SETTINGS = Settings(_env_file=None, MAX_RETRIES=4, RETRY_MIN_BACKOFF_SECONDS=0.5,  # type: ignore[call-arg]
                    RETRY_MAX_BACKOFF_SECONDS=30)


@pytest.fixture(scope="module")
def actors() -> Iterator[dict[str, dramatiq.Actor[..., object]]]:
    """The declared actors (read from their modules: the modules may already be bound to another broker)."""
    previous = dramatiq.broker.global_broker
    dramatiq.set_broker(StubBroker(middleware=middleware(SETTINGS, database_url="postgresql://unused/db")))
    try:
        load_actors()
        found = {value.actor_name: value for name in ACTOR_MODULES
                 for value in vars(importlib.import_module(name)).values() if isinstance(value, dramatiq.Actor)}
        yield found
    finally:
        dramatiq.broker.global_broker = previous


def test_actors_declare_only_name_queue_time_limit_and_what_is_final(
        actors: dict[str, dramatiq.Actor[..., object]]) -> None:
    fired = {job.actor_name for job in periodic_jobs(SETTINGS.model_copy(update={
        "AVITO_CLIENT_ID": "id", "AVITO_CLIENT_SECRET": "secret", "AVITO_USER_ID": "1"}))}
    assert fired <= set(actors), "a periodic job enqueues an actor nobody declared"
    for name, actor in actors.items():
        assert set(actor.options) <= {"time_limit", "throws", "max_retries"}, name
        assert actor.options["time_limit"] > 0, name
        if name in fired:
            assert actor.options["max_retries"] == 0, f"{name} is fired by the scheduler: its next tick is the retry"
        else:
            assert "max_retries" not in actor.options, f"{name} must take MAX_RETRIES from the policy"


def test_the_retry_numbers_come_from_settings() -> None:
    [policy] = [m for m in middleware(SETTINGS, database_url="postgresql://unused/db") if isinstance(m, FailurePolicy)]
    assert (policy.max_retries, policy.min_backoff, policy.max_backoff) == (4, 500, 30_000)
