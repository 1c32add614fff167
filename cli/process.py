"""What the long-running processes (``voronka web|worker|scheduler|bot``) share: the ``--no-migrate`` argument, the
services they run against, logging/Sentry and the operations set-up, and the stop signal. Each runs until
SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import threading
from collections.abc import Callable

from cli.services import ServicesBody, with_services
from db import crypto
from voronka.logs import setup_logging, setup_sentry
from voronka.metrics import start_publisher
from voronka.settings import Settings


def add_process_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-migrate", action="store_true", help="не применять миграции при старте")


def serve(args: argparse.Namespace, settings: Settings, body: ServicesBody) -> int:
    """Run the process ``body`` against the services, migrating first unless ``--no-migrate``."""
    return with_services(settings, body, migrate=not args.no_migrate)


def setup_process(settings: Settings, process: str) -> None:
    setup_logging(settings, process=process)
    setup_sentry(settings, process=process)


def start_operations(settings: Settings, *, process: str, redis_url: str) -> Callable[[], None]:
    """Per-process operations set-up: the personal-data key ring and the metrics publisher (non-web processes;
    the web serves /metrics itself). Returns the stop function."""
    crypto.configure(settings)
    if process == "web":
        return lambda: None
    publisher = start_publisher(redis_url, process, settings.METRICS_PUSH_SECONDS)
    return publisher.stop


def stop_event() -> threading.Event:
    """An event set by SIGTERM or SIGINT."""
    stop = threading.Event()

    def handler(signum: int, frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    return stop
