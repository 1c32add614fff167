"""Periodic jobs contributed by features. Each feature module exposes ``jobs(settings) -> list[(job_id, actor_name,
queue, seconds)]``; the scheduler fires them (Redis-locked per tick) and each job only enqueues its actor."""

from __future__ import annotations

import importlib

from voronka.settings import Settings

FEATURE_JOB_MODULES = ("workers.jobs_channels", "workers.jobs_deals", "workers.jobs_knowledge", "workers.jobs_ops")


def feature_jobs(settings: Settings) -> list[tuple[str, str, str, int]]:
    found: list[tuple[str, str, str, int]] = []
    for name in FEATURE_JOB_MODULES:
        found.extend(importlib.import_module(name).jobs(settings))
    return found
