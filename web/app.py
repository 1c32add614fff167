"""The aiohttp app factory: ``create_app(settings, database_url=..., redis_url=...)``.

Every opened resource (database pools, Redis, broker, notifier) lives in a cleanup context; each is stored under its
own typed key (``web.keys``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import dramatiq
from aiohttp import web
from redis.asyncio import Redis

from db.engine import make_async_engine, make_engine
from voronka import paths
from voronka.settings import Settings
from web import keys
from web.admin.auth import LOGIN_GUARD, LoginGuard
from web.cors import cors_middleware
from web.longpoll import SiteNotifier
from web.middlewares import errors_middleware, security_headers_middleware
from web.ratelimit import RATE_LIMITER, SlidingWindowLimiter, ratelimit_middleware
from web.routes import (
    admin,
    documents,
    health,
    metrics,
    pay,
    quote,
    site_chat,
    site_forms,
    site_pages,
    webhooks_avito,
    webhooks_telegram,
    webhooks_yookassa,
)
from workers.broker import setup_broker
from workers.enqueue import DramatiqEnqueuer


def setup_middlewares(app: web.Application) -> None:
    app.middlewares.append(security_headers_middleware)
    app.middlewares.append(cors_middleware)  # outside errors: error answers carry CORS headers too
    app.middlewares.append(errors_middleware)
    app.middlewares.append(ratelimit_middleware)  # inside errors: RateLimited becomes the 429 JSON


def setup_routes(app: web.Application) -> None:
    health.setup(app)
    site_chat.setup(app)
    quote.setup(app)
    documents.setup(app)
    site_forms.setup(app)
    site_pages.setup(app)
    webhooks_avito.setup(app)
    webhooks_telegram.setup(app)
    pay.setup(app)
    webhooks_yookassa.setup(app)
    admin.setup(app)  # admin API + pages, dashboard, /metrics, personal-data keys


def setup_resources(app: web.Application, broker: dramatiq.Broker | None) -> None:
    async def database(app: web.Application) -> AsyncIterator[None]:
        engine = make_async_engine(app[keys.URLS].database, pool_size=20)
        app[keys.DB] = engine
        sync_engine = make_engine(app[keys.URLS].database, pool_size=4)  # connects on first use only
        app[keys.SYNC_DB] = sync_engine
        yield
        await engine.dispose()
        sync_engine.dispose()

    async def redis(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        client = Redis.from_url(app[keys.URLS].redis)
        app[keys.REDIS] = client
        app[RATE_LIMITER] = SlidingWindowLimiter(client, limit=settings.RATE_LIMIT_PER_MINUTE)
        app[LOGIN_GUARD] = LoginGuard(client, max_failures=settings.ADMIN_LOGIN_MAX_FAILURES,
                                           window_seconds=settings.ADMIN_LOGIN_WINDOW_MINUTES * 60)
        notifier = SiteNotifier(client)
        app[keys.NOTIFIER] = notifier
        await notifier.start()

        async def release_long_polls(app: web.Application) -> None:
            await app[keys.NOTIFIER].shutdown()

        app.on_shutdown.append(release_long_polls)
        yield
        await notifier.stop()
        await client.aclose()

    async def message_broker(app: web.Application) -> AsyncIterator[None]:
        if broker is not None:
            app[keys.BROKER] = broker
            app[keys.ENQUEUER] = DramatiqEnqueuer(broker)
            yield
            return
        created = setup_broker(app[keys.SETTINGS], database_url=app[keys.URLS].database,
                               redis_url=app[keys.URLS].redis)
        app[keys.BROKER] = created
        app[keys.ENQUEUER] = DramatiqEnqueuer(created)
        yield
        created.close()

    app.cleanup_ctx.extend([database, redis, message_broker])


def create_app(settings: Settings, *, database_url: str, redis_url: str,
               broker: dramatiq.Broker | None = None) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app[keys.SETTINGS] = settings
    app[keys.URLS] = keys.Urls(database=database_url, redis=redis_url)
    app[keys.RATES] = keys.Cached(quote.RATES_TTL_SECONDS)
    app[keys.METRICS_DB] = keys.Cached(metrics.DB_CACHE_SECONDS)
    app[keys.KNOWLEDGE_BASE] = keys.KnowledgeBaseFolder(paths.KNOWLEDGE_BASE_DIR)
    setup_middlewares(app)
    setup_resources(app, broker)
    setup_routes(app)
    return app
