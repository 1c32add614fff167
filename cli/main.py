"""The ``voronka`` command. Every subcommand that needs Postgres or Redis uses the URLs from the environment, or the
embedded servers of ``VORONKA_DATA_DIR`` (joining a running ``voronka run`` or starting its own for its lifetime)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from voronka.settings import Settings, SettingsError, load_settings

Command = Callable[[argparse.Namespace, Settings], int]


def _with_services(args: argparse.Namespace, settings: Settings, body: Callable[[str, str], int],
                   *, migrate: bool = True) -> int:
    from db.migrate import upgrade
    from voronka.services import service_urls

    with service_urls(settings) as urls:
        if migrate:
            upgrade(urls.database_url)
        return body(urls.database_url, urls.redis_url)


def _quiet_logs(settings: Settings) -> None:
    from loguru import logger

    logger.remove()
    logger.add(sys.stderr, level="WARNING", format="{level}: {message}")


# --- processes ------------------------------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.supervisor import run

    return run(settings, port=args.port or settings.VORONKA_PORT)


def cmd_web(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.processes import run_web

    def body(db: str, redis: str) -> int:
        run_web(settings, database_url=db, redis_url=redis, port=args.port or settings.VORONKA_PORT)
        return 0

    return _with_services(args, settings, body, migrate=not args.no_migrate)


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.processes import run_worker

    def body(db: str, redis: str) -> int:
        run_worker(settings, database_url=db, redis_url=redis)
        return 0

    return _with_services(args, settings, body, migrate=not args.no_migrate)


def cmd_scheduler(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.processes import run_scheduler

    def body(db: str, redis: str) -> int:
        run_scheduler(settings, database_url=db, redis_url=redis)
        return 0

    return _with_services(args, settings, body, migrate=not args.no_migrate)


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    from voronka.processes import run_bot

    return _with_services(args, settings, lambda db, redis: run_bot(
        settings, database_url=db, redis_url=redis, polling=args.polling), migrate=not args.no_migrate)


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    from db.migrate import current_heads

    _quiet_logs(settings)

    def body(db: str, redis: str) -> int:
        print("Схема БД актуальна: " + ", ".join(sorted(current_heads(db))))
        return 0

    return _with_services(args, settings, body)


# --- tools ----------------------------------------------------------------------------------------------
def cmd_analyze(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.understand.cli import analyze_jsonl

    return analyze_jsonl(sys.stdin, sys.stdout)


def cmd_quote(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines.price.cli import quote_main

    _quiet_logs(settings)

    def body(db: str, redis: str) -> int:
        from db.engine import make_engine, session_scope
        from db.repo_pricing import load_rate_table

        engine = make_engine(db, pool_size=1)
        with session_scope(engine) as session:
            rates = load_rate_table(session)
        engine.dispose()
        return quote_main(sys.stdin, sys.stdout, jsonl=args.jsonl, rates=rates)

    return _with_services(args, settings, body)


def add_parsers(sub: Any) -> dict[str, Command]:
    handlers: dict[str, Command] = {}

    def add(name: str, handler: Command, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        handlers[name] = handler
        return parser

    p = add("run", cmd_run, "всё в одном: встроенные PostgreSQL и Redis, веб, воркеры, планировщик, бот")
    p.add_argument("--port", type=int, default=None)
    for name, handler, text in (("web", cmd_web, "веб-приёмник (сайт, вебхуки, API)"),
                                ("worker", cmd_worker, "воркеры Dramatiq"),
                                ("scheduler", cmd_scheduler, "планировщик APScheduler"),
                                ("bot", cmd_bot, "Telegram-бот")):
        p = add(name, handler, text)
        p.add_argument("--no-migrate", action="store_true", help="не применять миграции при старте")
        if name == "web":
            p.add_argument("--port", type=int, default=None)
        if name == "bot":
            p.add_argument("--polling", action="store_true", help="long polling для локальной разработки")
    add("migrate", cmd_migrate, "применить миграции схемы БД")
    p = add("analyze", cmd_analyze, "понимание сообщений: JSONL {\"text\"} на stdin")
    p.add_argument("--jsonl", action="store_true", required=True)
    p = add("quote", cmd_quote, "расчёт трёх пакетов по брифу (JSON на stdin)")
    p.add_argument("--jsonl", action="store_true")
    from voronka import cli_extra

    handlers.update(cli_extra.add_parsers(sub))
    return handlers


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Command]]:
    parser = argparse.ArgumentParser(prog="voronka", description="ИИ-ассистент продаж «Воронка»")
    sub = parser.add_subparsers(dest="command", required=True)
    return parser, add_parsers(sub)


def main(argv: list[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    from db.embedded import ensure_runtime_dir

    ensure_runtime_dir()
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "port", None):
            overrides["VORONKA_PORT"] = args.port
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    command = args.command
    key = command if command in handlers else f"{command}:{getattr(args, 'subcommand', '')}"
    return handlers[key](args, settings)


def _entry() -> None:
    raise SystemExit(main())


if __name__ == "__main__":
    _entry()
