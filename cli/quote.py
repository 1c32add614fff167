"""``voronka quote [--jsonl]``: the three packages for a brief on stdin, priced by the rate table in the database."""

from __future__ import annotations

import argparse
import sys

from cli.output import quiet_logs
from cli.services import one_connection_engine, with_services
from db.engine import session_scope
from db.repo_pricing import load_rate_table
from pipelines.price.cli import quote_main
from voronka.settings import Settings


def cmd_quote(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()

    def body(database_url: str, redis_url: str) -> int:
        with one_connection_engine(database_url) as engine, session_scope(engine) as session:
            rates = load_rate_table(session)
        return quote_main(sys.stdin, sys.stdout, jsonl=args.jsonl, rates=rates)

    return with_services(settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jsonl", action="store_true")
    parser.set_defaults(handler=cmd_quote)
