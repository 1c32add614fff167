"""``voronka migrate``: bring the database schema up to date and print its heads."""

from __future__ import annotations

import argparse

from cli.output import quiet_logs
from cli.services import with_services
from db.migrate import current_heads
from voronka.settings import Settings


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()

    def body(database_url: str, redis_url: str) -> int:
        print("Схема БД актуальна: " + ", ".join(sorted(current_heads(database_url))))
        return 0

    return with_services(settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    parser.set_defaults(handler=cmd_migrate)
