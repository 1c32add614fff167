"""Entry points of the long-running processes: web receiver, Dramatiq worker, scheduler, Telegram bot.

Each takes settings and resolved URLs, sets up logging/Sentry, and runs until SIGTERM/SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading

from loguru import logger

from voronka.logs import setup_logging, setup_sentry
from voronka.settings import Settings


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

    setup_logging(settings, process="worker")
    setup_sentry(settings, process="worker")
    if settings.VORONKA_WORKER_NICE:
        os.nice(settings.VORONKA_WORKER_NICE)  # acknowledgements first: background work yields the CPU
    broker = setup_broker(settings, database_url=database_url, redis_url=redis_url)
    configure(settings, database_url=database_url, redis_url=redis_url)
    load_actors()
    stop = _stop_event()
    worker = dramatiq.Worker(broker, worker_threads=settings.VORONKA_WORKER_THREADS, worker_timeout=500)
    worker.start()
    logger.info("worker started: {} threads, queues {}", settings.VORONKA_WORKER_THREADS,
                sorted(broker.get_declared_queues()))
    stop.wait()
    logger.info("worker stopping")
    worker.stop(timeout=30_000)
    broker.close()


def run_scheduler(settings: Settings, *, database_url: str, redis_url: str) -> None:
    from workers.scheduler import build_scheduler

    setup_logging(settings, process="scheduler")
    setup_sentry(settings, process="scheduler")
    scheduler = build_scheduler(settings, database_url=database_url, redis_url=redis_url)
    stop = _stop_event()
    scheduler.start()
    logger.info("scheduler started: {}", [job.id for job in scheduler.get_jobs()])
    stop.wait()
    scheduler.shutdown(wait=True)


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
    return asyncio.run(run_bot_process(settings, database_url=database_url, redis_url=redis_url, polling=polling))
