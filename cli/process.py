"""Entry points of the long-running processes: web receiver, Dramatiq worker, scheduler, Telegram bot.

Each takes settings and resolved URLs, sets up logging/Sentry, and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Callable

from loguru import logger

from voronka.logs import setup_logging, setup_sentry
from voronka.settings import Settings


def _ops_start(settings: Settings, *, process: str, redis_url: str) -> Callable[[], None]:
    """Per-process operations set-up: the personal-data key ring and the metrics publisher (non-web processes;
    the web serves /metrics itself). Returns the stop function."""
    from db import crypto
    from voronka.metrics import start_publisher

    crypto.configure(settings)
    if process == "web":
        return lambda: None
    publisher = start_publisher(redis_url, process, settings.METRICS_PUSH_SECONDS)
    return publisher.stop


def _stop_event() -> threading.Event:
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop


def run_web(settings: Settings, *, database_url: str, redis_url: str, port: int) -> None:
    from aiohttp import web

    from web.app import create_app

    setup_logging(settings, process="web")
    setup_sentry(settings, process="web")
    _ops_start(settings, process="web", redis_url=redis_url)
    app = create_app(settings, database_url=database_url, redis_url=redis_url)
    logger.info("web receiver on http://{}:{}", settings.VORONKA_HOST, port)
    loop = None
    try:
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:  # uvloop is optional: the default loop works, a little slower
        logger.info("uvloop not installed; using the default event loop")
    web.run_app(app, host=settings.VORONKA_HOST, port=port, print=None, access_log=None,
                handle_signals=True, shutdown_timeout=10, loop=loop, reuse_port=True)


def run_worker(settings: Settings, *, database_url: str, redis_url: str) -> None:
    import dramatiq

    from workers.broker import load_actors, setup_broker
    from workers.context import configure
    from workers.heartbeat import WorkerHeartbeat

    setup_logging(settings, process="worker")
    setup_sentry(settings, process="worker")
    stop_ops = _ops_start(settings, process="worker", redis_url=redis_url)
    if settings.VORONKA_WORKER_NICE:
        os.nice(settings.VORONKA_WORKER_NICE)  # acknowledgements first: background work yields the CPU
    broker = setup_broker(settings, database_url=database_url, redis_url=redis_url)
    configure(settings, database_url=database_url, redis_url=redis_url)
    load_actors()
    broker.add_middleware(WorkerHeartbeat(redis_url, settings.VORONKA_HEARTBEAT_SECONDS))  # `voronka health worker`
    stop = _stop_event()
    worker = dramatiq.Worker(broker, worker_threads=settings.VORONKA_WORKER_THREADS, worker_timeout=500)
    worker.start()
    logger.info("worker started: {} threads, queues {}", settings.VORONKA_WORKER_THREADS,
                sorted(broker.get_declared_queues()))
    stop.wait()
    logger.info("worker stopping")
    worker.stop(timeout=30_000)
    broker.close()
    stop_ops()


def run_scheduler(settings: Settings, *, database_url: str, redis_url: str) -> None:
    from workers.scheduler import build_scheduler

    setup_logging(settings, process="scheduler")
    setup_sentry(settings, process="scheduler")
    stop_ops = _ops_start(settings, process="scheduler", redis_url=redis_url)
    scheduler = build_scheduler(settings, database_url=database_url, redis_url=redis_url)
    stop = _stop_event()
    scheduler.start()
    logger.info("scheduler started: {}", [job.id for job in scheduler.get_jobs()])
    stop.wait()
    scheduler.shutdown(wait=True)
    stop_ops()


def run_bot(settings: Settings, *, database_url: str, redis_url: str, polling: bool) -> int:
    setup_logging(settings, process="bot")
    setup_sentry(settings, process="bot")
    if not settings.TELEGRAM_BOT_TOKEN:
        logger.error("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off")
        return 2
    try:
        from bot.runner import run_bot_process
    except ImportError:
        logger.error("the Telegram bot is not available in this build")
        return 2
    stop_ops = _ops_start(settings, process="bot", redis_url=redis_url)
    try:
        return asyncio.run(run_bot_process(settings, database_url=database_url, redis_url=redis_url,
                                           polling=polling))
    finally:
        stop_ops()
