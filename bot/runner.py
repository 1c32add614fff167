"""``voronka bot``: the Telegram bot process.

- ``--polling`` (local development): delete the webhook, then aiogram long polling; every update goes through the same
  routers as the webhook (persisted, then queued — no logic in the bot process).
- webhook mode (default, production): updates arrive at ``POST /api/v1/webhooks/telegram`` of the web process; this
  process registers the webhook when ``TELEGRAM_WEBHOOK_URL`` is set (or checks and warns), then waits for SIGTERM.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiogram import Bot
from loguru import logger

from bot.dispatcher import build_dispatcher
from bot.inbox import UpdateInbox
from db.engine import make_async_engine
from integrations.telegram import TelegramSender, make_bot
from voronka.errors import UpstreamError, ValidationError
from voronka.settings import Settings
from workers.broker import setup_broker
from workers.enqueue import DramatiqEnqueuer

WEBHOOK_PATH = "/api/v1/webhooks/telegram"


def webhook_url(settings: Settings) -> str:
    return settings.TELEGRAM_WEBHOOK_URL or settings.public_url + WEBHOOK_PATH


async def ensure_webhook(settings: Settings, bot: Bot) -> None:
    """Register our webhook when it is not (only with TELEGRAM_WEBHOOK_URL and a secret); warn otherwise."""
    sender = TelegramSender(bot)
    try:
        info = await sender.webhook_info()
        wanted = webhook_url(settings)
        if info.get("url") == wanted:
            logger.info("telegram webhook is set")
            return
        if settings.TELEGRAM_WEBHOOK_URL and settings.TELEGRAM_WEBHOOK_SECRET:
            await sender.set_webhook(wanted, settings.TELEGRAM_WEBHOOK_SECRET)
            logger.info("telegram webhook registered")
        else:
            logger.warning("telegram webhook is not set: run `voronka telegram set-webhook` "
                           "(TELEGRAM_WEBHOOK_URL and TELEGRAM_WEBHOOK_SECRET) or use `voronka bot --polling`")
    except (UpstreamError, ValidationError) as exc:
        logger.warning("telegram webhook not checked: {}", exc)


async def _wait_for_signal() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()


async def run_bot_process(settings: Settings, *, database_url: str, redis_url: str, polling: bool) -> int:
    bot = make_bot(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL)
    try:
        if not polling:
            await ensure_webhook(settings, bot)
            logger.info("bot started (webhook mode: updates arrive at the web process)")
            await _wait_for_signal()
            return 0
        broker = setup_broker(settings, database_url=database_url, redis_url=redis_url)
        engine = make_async_engine(database_url, pool_size=5)
        try:
            dp = build_dispatcher(settings, UpdateInbox(settings, engine, DramatiqEnqueuer(broker)))
            try:
                await TelegramSender(bot).delete_webhook()
            except UpstreamError as exc:
                logger.error("telegram is unreachable: {}", exc)
                return 1
            logger.info("bot started (long polling)")
            await dp.start_polling(bot, handle_signals=True, close_bot_session=False,
                                   allowed_updates=["message", "callback_query"])
        finally:
            await engine.dispose()
            broker.close()
        return 0
    finally:
        await bot.session.close()
        sys.stdout.flush()
