"""Two scheduler processes never fire the same job twice: a Redis key per job and tick decides."""

from __future__ import annotations

from workers.periodic import PeriodicJob
from workers.scheduler import fire_once


def test_two_schedulers_fire_a_tick_once(redis_client) -> None:  # type: ignore[no-untyped-def]
    job = PeriodicJob("sweeper", "maintenance.sweep", "maintenance", 10)
    fired: list[str] = []
    now = 1_000_000.0
    assert fire_once(redis_client, job, lambda: fired.append("a"), now=now) is True
    assert fire_once(redis_client, job, lambda: fired.append("b"), now=now + 3) is False  # same 10-s tick
    assert fire_once(redis_client, job, lambda: fired.append("b"), now=now + 10) is True  # next tick
    assert fired == ["a", "b"]
