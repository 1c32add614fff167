"""The scheduled hot reload of the shipped knowledge base (``rescan``), and the connections a knowledge-base
operation opens from the settings (``knowledge_services``: the ``voronka kb`` commands use it too)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
from sqlalchemy import Engine
from sqlmodel import Session

from db.engine import make_engine
from pipelines.knowledge.cache import SearchCache
from pipelines.knowledge.embedders import Embedder, make_embedder
from pipelines.knowledge.ingest import IngestReport, ingest_path
from voronka import paths
from voronka.settings import Settings

RESCAN_COLLECTION = "knowledge_base"


@dataclass(frozen=True)
class KnowledgeServices:
    engine: Engine
    cache: SearchCache | None  # None without Redis
    redis_client: redis.Redis | None


@contextmanager
def knowledge_services(settings: Settings, engine: Engine | None = None) -> Iterator[KnowledgeServices]:
    """The engine (``engine``, else one from ``settings.DATABASE_URL``), the search cache and the Redis client (when
    ``REDIS_URL`` is set); closes what it opened. RuntimeError without a database URL."""
    own_engine = engine is None
    if engine is None:
        if not settings.DATABASE_URL:
            raise RuntimeError("DATABASE_URL не задан")
        engine = make_engine(settings.DATABASE_URL, pool_size=2)
    client = None
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
    try:
        yield KnowledgeServices(engine, SearchCache(client) if client is not None else None, client)
    finally:
        if client is not None:
            client.close()
        if own_engine:
            engine.dispose()


def close_embedder(embedder: Embedder) -> None:
    close = getattr(embedder, "close", None)
    if close is not None:
        close()


def rescan(settings: Settings, *, path: Path | None = None, engine: Engine | None = None) -> IngestReport:
    """The scheduled hot reload: ingest ``knowledge_base/`` as collection "knowledge_base"."""
    with knowledge_services(settings, engine) as services:
        embedder = make_embedder(settings, cache=services.redis_client)
        try:
            with Session(services.engine, expire_on_commit=False) as session:
                return ingest_path(session, path or paths.KNOWLEDGE_BASE_DIR, collection=RESCAN_COLLECTION,
                                   embedder=embedder, cache=services.cache)
        finally:
            close_embedder(embedder)
