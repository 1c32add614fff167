"""The async API clients (Avito, Telegram) for sync worker code.

Dramatiq runs actors in threads; each thread gets its own event loop, kept for the thread's life, with its own
aiohttp session, async Redis client, ``AvitoClient`` and aiogram ``Bot`` — connections are reused between jobs.
``ChannelClients.run(coro)`` runs a coroutine on the calling thread's loop (never from inside a running loop).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
import redis.asyncio as aioredis

from integrations.avito import AvitoClient
from integrations.telegram import TelegramSender, make_bot
from voronka.errors import NotConfigured
from voronka.settings import Settings

T = TypeVar("T")


class _Local(threading.local):
    loop: asyncio.AbstractEventLoop | None = None
    session: aiohttp.ClientSession | None = None
    redis: aioredis.Redis | None = None
    avito: AvitoClient | None = None
    telegram: TelegramSender | None = None


def avito_configured(settings: Settings) -> bool:
    return bool(settings.AVITO_CLIENT_ID and settings.AVITO_CLIENT_SECRET and settings.AVITO_USER_ID)


def telegram_configured(settings: Settings) -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def managers_chat_configured(settings: Settings) -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN and settings.MANAGER_TELEGRAM_CHAT_ID)


class ChannelClients:
    def __init__(self, settings: Settings, *, redis_url: str) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self._local = _Local()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        local = self._local
        if local.loop is None or local.loop.is_closed():
            local.loop = asyncio.new_event_loop()
        return local.loop.run_until_complete(coro)

    async def avito(self) -> AvitoClient:
        """This thread's Avito client (call inside ``run``)."""
        if not avito_configured(self.settings):
            raise NotConfigured("Avito не настроен: нужны AVITO_CLIENT_ID, AVITO_CLIENT_SECRET и AVITO_USER_ID")
        local = self._local
        if local.avito is None:
            if local.session is None or local.session.closed:
                local.session = aiohttp.ClientSession()
            if local.redis is None:
                local.redis = aioredis.Redis.from_url(self.redis_url)
            local.avito = AvitoClient(self.settings, session=local.session, redis=local.redis)
        return local.avito

    async def telegram(self) -> TelegramSender:
        """This thread's Telegram sender (call inside ``run``)."""
        if not telegram_configured(self.settings):
            raise NotConfigured("Telegram не настроен: нужен TELEGRAM_BOT_TOKEN")
        local = self._local
        if local.telegram is None:
            bot = make_bot(self.settings.TELEGRAM_BOT_TOKEN, self.settings.TELEGRAM_API_URL)
            local.telegram = TelegramSender(bot, max_retries=self.settings.MAX_RETRIES, max_retry_after=25.0)
        return local.telegram
