"""The APScheduler process. Jobs only enqueue Dramatiq messages.

Periodic jobs are declared in code, so they survive a restart by construction; one-off work (reminders, surveys,
link expiry) is stored in Postgres and found by the periodic jobs. A Redis lock per job and tick makes sure two
scheduler processes never fire the same job twice. A ``heartbeat`` interval job keeps this process's liveness key
(``voronka health scheduler``); a clean shutdown deletes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import redis as redis_lib
from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.schedulers.background import BackgroundScheduler
from loguru import logger

from voronka import heartbeat
from voronka.settings import Settings
from workers.broker import setup_broker
from workers.enqueue import enqueue
from workers.periodic import PeriodicJob, periodic_jobs


def fire_once(redis: redis_lib.Redis, job: PeriodicJob, fire: Callable[[], object], *,
              now: float | None = None) -> bool:
    """Fire the job for the current tick unless another scheduler already did."""
    tick = int((now if now is not None else time.time()) // job.seconds)
    key = f"voronka:sched:{job.job_id}:{tick}"
    if not redis.set(key, "1", nx=True, ex=max(job.seconds * 3, 30)):
        return False
    fire()
    return True


def build_scheduler(settings: Settings, *, database_url: str, redis_url: str) -> BackgroundScheduler:
    broker = setup_broker(settings, database_url=database_url, redis_url=redis_url)
    redis = redis_lib.Redis.from_url(redis_url)
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1,
                                                                   "misfire_grace_time": 30})
    for job in periodic_jobs(settings):
        def tick(job: PeriodicJob = job) -> None:
            try:
                fire_once(redis, job, lambda: enqueue(broker, job.actor_name, queue=job.queue))
            except redis_lib.RedisError as exc:
                logger.warning("scheduler could not reach Redis for {}: {}", job.job_id, type(exc).__name__)

        scheduler.add_job(tick, "interval", seconds=job.seconds, id=job.job_id)
        scheduler.add_job(tick, "date", id=f"{job.job_id}-first")  # fire once right at start
    _add_heartbeat(scheduler, redis, settings.VORONKA_HEARTBEAT_SECONDS)
    return scheduler


def _add_heartbeat(scheduler: BackgroundScheduler, redis: redis_lib.Redis, interval: float) -> None:
    """Beat from the job executor itself: a scheduler whose job threads are stuck stops beating."""
    key = heartbeat.heartbeat_key("scheduler")

    def beat() -> None:
        try:
            heartbeat.beat(redis, "scheduler", interval, key=key)
        except redis_lib.RedisError as exc:
            logger.warning("scheduler heartbeat failed: {}", type(exc).__name__)

    def on_shutdown(event: SchedulerEvent) -> None:
        heartbeat.forget(redis, key)

    scheduler.add_job(beat, "interval", seconds=interval, id="heartbeat", next_run_time=datetime.now(UTC))
    scheduler.add_listener(on_shutdown, EVENT_SCHEDULER_SHUTDOWN)
