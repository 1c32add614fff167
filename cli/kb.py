"""``voronka kb ingest|search|history``: load files into the knowledge base, search it, list its changes."""

from __future__ import annotations

import argparse
import sys

from cli.output import quiet_logs
from cli.services import with_services
from pipelines.knowledge.cli import kb_history_main, kb_ingest_main, kb_search_main
from voronka.settings import Settings


def _scoped(settings: Settings, database_url: str, redis_url: str) -> Settings:
    """The knowledge-base bodies open their own connections from the settings' URLs."""
    return settings.model_copy(update={"DATABASE_URL": database_url, "REDIS_URL": redis_url})


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_ingest_main(
        args.path, args.collection, _scoped(settings, database_url, redis_url), sys.stdout), personal_data=True)


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_search_main(
        args.query, jsonl=args.jsonl, top=args.top, settings=_scoped(settings, database_url, redis_url),
        inp=sys.stdin, out=sys.stdout, collection=args.collection), personal_data=True)


def cmd_history(args: argparse.Namespace, settings: Settings) -> int:
    quiet_logs()
    return with_services(settings, lambda database_url, redis_url: kb_history_main(
        args.collection, settings=_scoped(settings, database_url, redis_url), out=sys.stdout, limit=args.limit),
        personal_data=True)


def register(parser: argparse.ArgumentParser) -> None:
    kb = parser.add_subparsers(dest="subcommand", required=True)
    p = kb.add_parser("ingest", help="загрузить папку или файл в базу знаний")
    p.add_argument("path")
    p.add_argument("--collection")
    p.set_defaults(handler=cmd_ingest)
    p = kb.add_parser("search", help="поиск по базе знаний")
    p.add_argument("query", nargs="?")
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--json", action="store_true", help="вывод JSON-массивом (так и по умолчанию)")
    p.add_argument("--jsonl", action="store_true", help="запросы {\"q\"} построчно со stdin")
    p.add_argument("--collection")
    p.set_defaults(handler=cmd_search)
    p = kb.add_parser("history", help="история изменений базы знаний")
    p.add_argument("--collection")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_history)
