"""Typed keys of the objects the web app shares: one ``web.AppKey`` per thing, each set once (in ``create_app`` or
the cleanup context that opens it). The rate limiter's key lives beside it in ``web.ratelimit``, the admin login
guard's in ``web.admin.auth`` (so the admin package depends on these keys, never the other way round)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import dramatiq
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from db.rate_table import RateTable
from voronka.settings import Settings
from web.longpoll import SiteNotifier
from workers.enqueue import DramatiqEnqueuer

T = TypeVar("T")


@dataclass(frozen=True)
class Urls:
    database: str
    redis: str


@dataclass
class Cached(Generic[T]):
    """A value recomputed at most every ``ttl`` seconds in this process (``get`` is None when stale or empty)."""

    ttl: float
    value: T | None = None
    at: float = 0.0

    def get(self) -> T | None:
        return self.value if self.value is not None and time.monotonic() - self.at < self.ttl else None

    def put(self, value: T) -> None:
        self.value, self.at = value, time.monotonic()

    def clear(self) -> None:
        self.value = None


@dataclass
class KnowledgeBaseFolder:
    """The knowledge-base folder the admin edits (tests point it elsewhere) and the lock serialising its changes."""

    path: Path
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class TelegramFeed(Protocol):
    """What the Telegram webhook feeds updates to (``bot.webhook.WebhookFeed``; present only with a bot token)."""

    async def feed(self, body: dict[str, Any]) -> None: ...

    async def close(self) -> None: ...


SETTINGS = web.AppKey("settings", Settings)
URLS = web.AppKey("urls", Urls)
DB = web.AppKey("db", AsyncEngine)
SYNC_DB = web.AppKey("sync_db", Engine)  # the admin's synchronous repository functions run on it in a thread
REDIS = web.AppKey("redis", Redis)
BROKER = web.AppKey("broker", dramatiq.Broker)
ENQUEUER = web.AppKey("enqueuer", DramatiqEnqueuer)  # non-blocking enqueue for handlers
NOTIFIER = web.AppKey("notifier", SiteNotifier)
RATES: web.AppKey[Cached[RateTable]] = web.AppKey("rates", Cached)  # the quote API's price list
METRICS_DB: web.AppKey[Cached[dict[str, Any]]] = web.AppKey("metrics_db", Cached)  # the scrape's database part
KNOWLEDGE_BASE = web.AppKey("knowledge_base", KnowledgeBaseFolder)
TELEGRAM = web.AppKey("telegram", TelegramFeed)
