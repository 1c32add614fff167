"""The ``voronka`` command: the list of commands and the dispatch. Every subcommand that needs Postgres or Redis uses
the URLs from the environment, or the embedded servers of ``VORONKA_DATA_DIR`` (joining a running ``voronka run`` or
starting its own for its lifetime).

``voronka <command>`` lives in ``cli/<command>.py``: its ``register(parser)`` adds the arguments and sets
``handler`` (``(args, settings) -> exit code``). Only the module of the command being run is imported, so
``voronka --help`` and the container health probe ``voronka health`` start in a fraction of a second instead of
loading the web app, aiogram and the knowledge base of every other command.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any, Protocol, cast

from db.embedded import ensure_runtime_dir
from voronka.settings import Settings, SettingsError, load_settings

Handler = Callable[[argparse.Namespace, Settings], int]

# (command, help): `voronka --help` lists them in this order; the arguments are in cli/<command>.py.
COMMANDS: tuple[tuple[str, str], ...] = (
    ("run", "всё в одном: встроенные PostgreSQL и Redis, веб, воркеры, планировщик, бот"),
    ("web", "веб-приёмник (сайт, вебхуки, API)"),
    ("worker", "воркеры Dramatiq"),
    ("scheduler", "планировщик APScheduler"),
    ("bot", "Telegram-бот"),
    ("migrate", "применить миграции схемы БД"),
    ("analyze", "понимание сообщений: JSONL {\"text\"} на stdin"),
    ("quote", "расчёт трёх пакетов по брифу (JSON на stdin)"),
    ("avito", "Avito: подписка на вебхук, объявления и продукты"),
    ("telegram", "Telegram: вебхук бота"),
    ("admin", "пользователи админки и ключи"),
    ("privacy", "персональные данные: выгрузка и удаление"),
    ("backup", "резервная копия: pg_dump БД и rsync документов в BACKUP_PATH/<время>/"),
    ("restore", "восстановить БД и документы из резервной копии"),
    ("doc", "документы"),
    ("kb", "база знаний"),
    ("health", "живость процесса: worker | scheduler | web (код 0 — жив, 1 — нет)"),
)


class CommandModule(Protocol):
    def register(self, parser: argparse.ArgumentParser) -> None: ...


def command_module(command: str) -> CommandModule:
    """``cli/<command>.py``, imported on demand (see the module docstring)."""
    return cast(CommandModule, importlib.import_module(f"cli.{command}"))


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    """The parser of ``voronka``, with the arguments of the command named by ``argv[0]`` (only that one)."""
    parser = argparse.ArgumentParser(prog="voronka", description="ИИ-ассистент продаж «Воронка»")
    sub = parser.add_subparsers(dest="command", required=True)
    for command, help_text in COMMANDS:
        command_parser = sub.add_parser(command, help=help_text)
        if argv and argv[0] == command:
            command_module(command).register(command_parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    ensure_runtime_dir()
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "port", None):
            overrides["VORONKA_PORT"] = args.port
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    handler = cast(Handler, args.handler)
    return handler(args, settings)
