"""The async API clients (Avito, Telegram) for sync worker code.

Dramatiq runs actors in threads; the clients live on the process's one event loop (``voronka.asyncbridge``): one
aiohttp session, async Redis client, ``AvitoClient`` and aiogram ``Bot`` shared by every thread, connections reused
between jobs. ``ChannelClients.run(coro)`` runs a coroutine on that loop from a sync thread.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, TypeVar

import aiohttp
import redis.asyncio as aioredis

from integrations.avito import AvitoClient
from integrations.telegram import TelegramSender, make_bot
from voronka.asyncbridge import AsyncBridge, shared_bridge
from voronka.errors import NotConfigured
from voronka.settings import Settings

T = TypeVar("T")


class ChannelClients:
    """The process's Avito and Telegram clients, created on first use inside the bridge's loop."""

    def __init__(self, settings: Settings, *, redis_url: str, bridge: AsyncBridge | None = None) -> None:
        self.settings = settings
        self.redis_url = redis_url
        self.bridge = bridge or shared_bridge()
        self._session: aiohttp.ClientSession | None = None
        self._redis: aioredis.Redis | None = None
        self._avito: AvitoClient | None = None
        self._telegram: TelegramSender | None = None

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
        """Run ``coro`` (which uses ``avito()`` / ``telegram()``) on the bridge's loop from a sync thread."""
        return self.bridge.run(coro, timeout=timeout)

    # Each getter runs on the one loop and does not await before storing what it made: no two threads' calls can
    # interleave there, so every client is made once.
    async def avito(self) -> AvitoClient:
        """The Avito client (call inside ``run``)."""
        if not self.settings.avito_configured:
            raise NotConfigured("Avito не настроен: нужны AVITO_CLIENT_ID, AVITO_CLIENT_SECRET и AVITO_USER_ID")
        if self._avito is None:
            if self._session is None or self._session.closed:
                self._session = aiohttp.ClientSession()
            if self._redis is None:
                self._redis = aioredis.Redis.from_url(self.redis_url)
            self._avito = AvitoClient(self.settings, session=self._session, redis=self._redis)
        return self._avito

    async def telegram(self) -> TelegramSender:
        """The Telegram sender (call inside ``run``)."""
        if not self.settings.telegram_configured:
            raise NotConfigured("Telegram не настроен: нужен TELEGRAM_BOT_TOKEN")
        if self._telegram is None:
            bot = make_bot(self.settings.TELEGRAM_BOT_TOKEN, self.settings.TELEGRAM_API_URL)
            self._telegram = TelegramSender(bot, max_retries=self.settings.MAX_RETRIES, max_retry_after=25.0)
        return self._telegram

    async def aclose(self) -> None:
        """Close the sessions (on the bridge's loop: ``bridge.run(clients.aclose())``)."""
        telegram, self._telegram, self._avito = self._telegram, None, None
        if telegram is not None:
            await telegram.bot.session.close()
        if self._session is not None and not self._session.closed:
            await self._session.close()
        if self._redis is not None:
            await self._redis.aclose()
        self._session = self._redis = None
