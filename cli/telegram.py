"""``voronka telegram set-webhook|delete-webhook|info``: the bot's webhook at Telegram."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Awaitable, Callable

from bot.runner import webhook_url
from cli.output import fail, print_json, quiet_logs
from integrations.telegram import TelegramSender, make_bot
from voronka.errors import VoronkaError
from voronka.settings import Settings


def _with_sender(settings: Settings, body: Callable[[TelegramSender], Awaitable[int]]) -> int:
    """Run ``body`` with a sender of the configured bot; the bot's HTTP session is closed after."""
    quiet_logs()
    if not settings.TELEGRAM_BOT_TOKEN:
        return fail("Telegram не настроен: задайте TELEGRAM_BOT_TOKEN")

    async def go() -> int:
        bot = make_bot(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL)
        try:
            return await body(TelegramSender(bot))
        finally:
            await bot.session.close()

    try:
        return asyncio.run(go())
    except VoronkaError as exc:
        return fail(f"Ошибка: {exc.message}")


def cmd_set_webhook(args: argparse.Namespace, settings: Settings) -> int:
    url = args.url or webhook_url(settings)
    if not settings.TELEGRAM_WEBHOOK_SECRET:
        return fail("Задайте TELEGRAM_WEBHOOK_SECRET (1–256 символов A-Z, a-z, 0-9, _ и -)")

    async def body(sender: TelegramSender) -> int:
        await sender.set_webhook(url, settings.TELEGRAM_WEBHOOK_SECRET, drop_pending_updates=args.drop_pending)
        print(f"Вебхук Telegram установлен: {url}")
        return 0

    return _with_sender(settings, body)


def cmd_delete_webhook(args: argparse.Namespace, settings: Settings) -> int:
    async def body(sender: TelegramSender) -> int:
        await sender.delete_webhook(drop_pending_updates=args.drop_pending)
        print("Вебхук Telegram удалён (для локальной разработки: voronka bot --polling).")
        return 0

    return _with_sender(settings, body)


def cmd_info(args: argparse.Namespace, settings: Settings) -> int:
    async def body(sender: TelegramSender) -> int:
        info = await sender.webhook_info()
        print_json({"webhook": info, "bot": await sender.get_me()})
        return 0

    return _with_sender(settings, body)


def register(parser: argparse.ArgumentParser) -> None:
    telegram = parser.add_subparsers(dest="subcommand", required=True)
    p = telegram.add_parser("set-webhook", help="установить вебхук (TELEGRAM_WEBHOOK_URL и TELEGRAM_WEBHOOK_SECRET)")
    p.add_argument("--url", default=None)
    p.add_argument("--drop-pending", action="store_true", help="отбросить накопившиеся обновления")
    p.set_defaults(handler=cmd_set_webhook)
    p = telegram.add_parser("delete-webhook", help="удалить вебхук")
    p.add_argument("--drop-pending", action="store_true")
    p.set_defaults(handler=cmd_delete_webhook)
    telegram.add_parser("info", help="состояние вебхука и бота").set_defaults(handler=cmd_info)
