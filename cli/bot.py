"""``voronka bot``: the Telegram bot (webhook mode by default, ``--polling`` for local development)."""

from __future__ import annotations

import argparse
import asyncio

from loguru import logger

from bot.runner import run_bot_process
from cli.process import add_process_arguments, serve, setup_process, start_operations
from voronka.settings import Settings


def run_bot(settings: Settings, *, database_url: str, redis_url: str, polling: bool) -> int:
    setup_process(settings, "bot")
    if not settings.TELEGRAM_BOT_TOKEN:
        logger.error("TELEGRAM_BOT_TOKEN is not set: the Telegram bot is off")
        return 2
    stop_ops = start_operations(settings, process="bot", redis_url=redis_url)
    try:
        return asyncio.run(run_bot_process(settings, database_url=database_url, redis_url=redis_url,
                                           polling=polling))
    finally:
        stop_ops()


def cmd_bot(args: argparse.Namespace, settings: Settings) -> int:
    return serve(args, settings, lambda database_url, redis_url: run_bot(
        settings, database_url=database_url, redis_url=redis_url, polling=args.polling))


def register(parser: argparse.ArgumentParser) -> None:
    add_process_arguments(parser)
    parser.add_argument("--polling", action="store_true", help="long polling для локальной разработки")
    parser.set_defaults(handler=cmd_bot)
