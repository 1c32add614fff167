"""Typed keys of the objects the web app shares (opened in cleanup contexts)."""

from __future__ import annotations

from typing import Any

import dramatiq
from aiohttp import web
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from voronka.settings import Settings
from web.longpoll import SiteNotifier
from workers.enqueue import AsyncEnqueuer

SETTINGS = web.AppKey("settings", Settings)
URLS = web.AppKey("urls", dict)  # {"database": ..., "redis": ...}
DB = web.AppKey("db", AsyncEngine)
REDIS = web.AppKey("redis", Redis)
BROKER = web.AppKey("broker", dramatiq.Broker)
ENQUEUER = web.AppKey("enqueuer", AsyncEnqueuer)  # non-blocking enqueue for handlers
NOTIFIER = web.AppKey("notifier", SiteNotifier)
EXTRAS = web.AppKey("extras", dict[str, Any])
