"""Database engines and sessions. Sync sessions for pipelines (worker threads), async for the web receiver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlmodel import Session


def normalise_url(url: str) -> str:
    """Use psycopg 3 for every postgres URL (``postgres://`` and ``postgresql://`` alike)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    return create_engine(normalise_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True,
                         pool_recycle=1800)


def make_async_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    return create_async_engine(normalise_url(url), pool_size=pool_size, max_overflow=20, pool_pre_ping=True,
                               pool_recycle=1800)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error."""
    session = Session(engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
