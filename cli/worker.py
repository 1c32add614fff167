"""``voronka worker``: a Dramatiq worker with every actor, beating its liveness heartbeat (``voronka health``)."""

from __future__ import annotations

import argparse
import os

import dramatiq
from loguru import logger

from cli.process import add_process_arguments, serve, setup_process, start_operations, stop_event
from voronka.settings import Settings
from workers.broker import load_actors, setup_broker
from workers.context import close as close_context
from workers.context import configure
from workers.heartbeat import WorkerHeartbeat


def run_worker(settings: Settings, *, database_url: str, redis_url: str) -> None:
    setup_process(settings, "worker")
    stop_ops = start_operations(settings, process="worker", redis_url=redis_url)
    if settings.VORONKA_WORKER_NICE:
        os.nice(settings.VORONKA_WORKER_NICE)  # acknowledgements first: background work yields the CPU
    broker = setup_broker(settings, database_url=database_url, redis_url=redis_url)
    configure(settings, database_url=database_url, redis_url=redis_url)
    load_actors()
    broker.add_middleware(WorkerHeartbeat(redis_url, settings.VORONKA_HEARTBEAT_SECONDS))  # `voronka health worker`
    stop = stop_event()
    worker = dramatiq.Worker(broker, worker_threads=settings.VORONKA_WORKER_THREADS, worker_timeout=500)
    worker.start()
    logger.info("worker started: {} threads, queues {}", settings.VORONKA_WORKER_THREADS,
                sorted(broker.get_declared_queues()))
    stop.wait()
    logger.info("worker stopping")
    worker.stop(timeout=30_000)
    close_context()  # the runtime's clients, sessions and async bridge
    broker.close()
    stop_ops()


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    def body(database_url: str, redis_url: str) -> int:
        run_worker(settings, database_url=database_url, redis_url=redis_url)
        return 0

    return serve(args, settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    add_process_arguments(parser)
    parser.set_defaults(handler=cmd_worker)
