"""``GET /metrics`` for Prometheus (open unless ``METRICS_TOKEN`` is set: then ``Authorization: Bearer <token>``).

The answer merges this web process's registry, the snapshots other processes published to Redis, and values read
at scrape time: queue depths (ready / delayed / dead-letter) from the broker's Redis keys, leads by stage and
channel, leads that reached each funnel stage, failed jobs, pending outbox rows, reply latency p50/p95 over the last
hour. The database part is cached for a few seconds.

The metrics middleware times every request by route pattern and counts provider webhooks
(``/api/v1/webhooks/<provider>/...``) with their latency.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.core import GaugeMetricFamily, Metric
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from pipelines import analytics
from voronka import metrics
from voronka.errors import VoronkaError
from web import keys

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
WEBHOOK_PREFIX = "/api/v1/webhooks/"
DB_CACHE_SECONDS = 5.0  # the database part of a scrape is cached this long (``keys.METRICS_DB``)
ALL_TIME = datetime(2000, 1, 1, tzinfo=UTC)
QUEUE_STATES = {".DQ.msgs": "delayed", ".XQ.msgs": "dead", ".msgs": "ready"}


def route_of(request: web.Request) -> str:
    info = request.match_info
    resource = info.route.resource if info is not None and info.route is not None else None
    if resource is None or info.http_exception is not None:
        return "unmatched"
    return resource.canonical


def webhook_provider(path: str) -> str | None:
    if not path.startswith(WEBHOOK_PREFIX):
        return None
    return path[len(WEBHOOK_PREFIX):].split("/", 1)[0] or "unknown"


@web.middleware
async def metrics_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    except VoronkaError as exc:
        status = exc.status
        raise
    finally:
        elapsed = time.perf_counter() - started
        if request.path != "/metrics":
            metrics.observe_http(route_of(request), request.method, status, elapsed)
        provider = webhook_provider(request.path)
        if provider is not None:
            metrics.observe_webhook(provider, status, elapsed)


async def queue_depths(redis: Any, namespace: str = "voronka") -> list[tuple[str, str, int]]:
    """(queue, state, messages) for every broker queue found in Redis."""
    found: list[tuple[str, str, int]] = []
    prefix = f"{namespace}:"
    async for raw in redis.scan_iter(match=f"{prefix}*.msgs", count=500):
        key = raw.decode() if isinstance(raw, bytes) else str(raw)
        name = key[len(prefix):]
        if name.startswith("__"):
            continue
        for suffix, state in QUEUE_STATES.items():
            if name.endswith(suffix):
                found.append((name[: -len(suffix)], state, int(await redis.hlen(key))))
                break
    return sorted(found)


def db_values(engine: Any) -> dict[str, Any]:
    """Everything the scrape reads from Postgres (sync, in a thread)."""
    with Session(engine) as session:
        leads = session.execute(sa.text("SELECT stage, channel, count(*) AS n FROM leads GROUP BY 1, 2")).all()
        failed = session.execute(sa.text("SELECT actor, queue, count(*) AS n FROM failed_jobs GROUP BY 1, 2")).all()
        outbox = session.execute(sa.text(
            "SELECT kind, count(*) AS n FROM outbox WHERE status IN ('pending', 'sending') GROUP BY 1")).all()
        now = datetime.now(UTC)
        funnel = analytics.funnel(session, analytics.Period(ALL_TIME, now + timedelta(days=1)))
        recent = analytics.reply_times(session, analytics.Period(now - timedelta(hours=1), now))
    return {"leads": [(r.stage, r.channel, int(r.n)) for r in leads],
            "failed": [(r.actor, r.queue, int(r.n)) for r in failed],
            "outbox": [(r.kind, int(r.n)) for r in outbox], "funnel": funnel, "reply": recent}


async def cached_db_values(app: web.Application) -> dict[str, Any] | None:
    cache = app[keys.METRICS_DB]
    cached = cache.get()
    if cached is not None:
        return cached
    try:
        values = await asyncio.to_thread(db_values, app[keys.SYNC_DB])
    except SQLAlchemyError as exc:
        logger.warning("metrics: database unavailable: {}", type(exc).__name__)
        return None
    cache.put(values)
    return values


def scrape_families(depths: list[tuple[str, str, int]] | None, db: dict[str, Any] | None) -> list[Metric]:
    families: list[Metric] = []
    up = GaugeMetricFamily("voronka_scrape_source_up", "1 when a scrape-time source answered", labels=["source"])
    up.add_metric(["redis"], 1.0 if depths is not None else 0.0)
    up.add_metric(["database"], 1.0 if db is not None else 0.0)
    families.append(up)
    if depths is not None:
        queue = GaugeMetricFamily("voronka_queue_messages", "Messages in broker queues", labels=["queue", "state"])
        for name, state, n in depths:
            queue.add_metric([name, state], n)
        families.append(queue)
    if db is not None:
        leads = GaugeMetricFamily("voronka_leads", "Leads by current stage and channel", labels=["stage", "channel"])
        for stage, channel, n in db["leads"]:
            leads.add_metric([stage, channel], n)
        reached = GaugeMetricFamily("voronka_funnel_leads", "Leads that reached each funnel stage (all time)",
                                    labels=["stage", "channel"])
        for step in db["funnel"]["stages"]:
            reached.add_metric([step["stage"], "all"], step["count"])
        for channel, data in db["funnel"]["by_channel"].items():
            for step in data["stages"]:
                reached.add_metric([step["stage"], channel], step["count"])
        failed = GaugeMetricFamily("voronka_failed_jobs", "Jobs that failed for good (failed_jobs rows)",
                                   labels=["actor", "queue"])
        for actor, queue_name, n in db["failed"]:
            failed.add_metric([actor, queue_name], n)
        outbox = GaugeMetricFamily("voronka_outbox_pending", "Side effects waiting for delivery", labels=["kind"])
        for kind, n in db["outbox"]:
            outbox.add_metric([kind], n)
        reply = GaugeMetricFamily("voronka_reply_latency_recent_seconds",
                                  "Client message → reply over the last hour", labels=["quantile"])
        for q in ("p50", "p95"):
            value = db["reply"][q]
            if value is not None:
                reply.add_metric(["0.5" if q == "p50" else "0.95"], value)
        families.extend([leads, reached, failed, outbox, reply])
    return families


async def published_snapshots(redis: Any) -> list[bytes]:
    keys_found = [k async for k in redis.scan_iter(match=f"{metrics.PUBLISH_PREFIX}*", count=500)]
    if not keys_found:
        return []
    values = await redis.mget(keys_found)
    return [v for v in values if v]


async def get_metrics(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    if settings.METRICS_TOKEN:
        header = request.headers.get("Authorization", "")
        supplied = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not hmac.compare_digest(supplied.encode(), settings.METRICS_TOKEN.encode()):
            return web.Response(status=401, text="unauthorized\n", headers={"WWW-Authenticate": "Bearer"})
    redis = request.app[keys.REDIS]
    texts: list[bytes] = [metrics.snapshot()]
    depths: list[tuple[str, str, int]] | None
    try:
        texts.extend(await published_snapshots(redis))
        depths = await queue_depths(redis)
    except RedisError as exc:
        logger.warning("metrics: Redis unavailable: {}", type(exc).__name__)
        depths = None
    db = await cached_db_values(request.app)
    families = metrics.merge_texts(texts) + scrape_families(depths, db)
    return web.Response(body=metrics.render(families), headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    app.middlewares.append(metrics_middleware)
    app.router.add_get("/metrics", get_metrics)
