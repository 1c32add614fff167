"""``voronka scheduler``: APScheduler with the periodic jobs of every feature (they enqueue; workers do the work)."""

from __future__ import annotations

import argparse

from loguru import logger

from cli.process import add_process_arguments, serve, setup_process, start_operations, stop_event
from voronka.settings import Settings
from workers.scheduler import build_scheduler


def run_scheduler(settings: Settings, *, database_url: str, redis_url: str) -> None:
    setup_process(settings, "scheduler")
    stop_ops = start_operations(settings, process="scheduler", redis_url=redis_url)
    scheduler = build_scheduler(settings, database_url=database_url, redis_url=redis_url)
    stop = stop_event()
    scheduler.start()
    logger.info("scheduler started: {}", [job.id for job in scheduler.get_jobs()])
    stop.wait()
    scheduler.shutdown(wait=True)
    stop_ops()


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    def body(database_url: str, redis_url: str) -> int:
        run_scheduler(settings, database_url=database_url, redis_url=redis_url)
        return 0

    return serve(args, settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    add_process_arguments(parser)
    parser.set_defaults(handler=cmd_scheduler)
