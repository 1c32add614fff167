"""Session-wide real services: one embedded PostgreSQL 18 (pgvector) and one embedded Valkey for the whole run.

Fixtures:
- ``services``: (database_url, redis_url) of the embedded servers, migrated to head.
- ``settings``: a ``Settings`` pointed at them, with a temp data dir;
  tests override fields with ``settings.model_copy``.
- ``engine`` / ``db``: a sync SQLAlchemy engine and a fresh session; ``clean_db`` truncates every table first.
- ``redis_client``: a sync redis client on a flushed database; ``redis_url`` its URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis as redis_lib
from sqlalchemy import Engine, text
from sqlmodel import Session

from db.embedded import ensure_runtime_dir

ensure_runtime_dir()
# One secret for the test process and the worker processes it starts (signed links, dev encryption key).
os.environ.setdefault("JWT_SECRET_KEY", "test-secret-key-0123456789abcdef")


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    from db.embedded import EmbeddedServices
    from db.migrate import upgrade

    external_db = os.environ.get("TEST_DATABASE_URL")
    external_redis = os.environ.get("TEST_REDIS_URL")
    embedded = None
    if external_db and external_redis:
        database_url, redis_url = external_db, external_redis
    else:
        embedded = EmbeddedServices(tmp_path_factory.mktemp("embedded"), redis_persist=False)
        embedded.start()
        database_url, redis_url = embedded.database_url, embedded.redis_url
    upgrade(database_url)
    yield database_url, redis_url
    if embedded is not None:
        embedded.stop()


@pytest.fixture(scope="session")
def database_url(services: tuple[str, str]) -> str:
    return services[0]


@pytest.fixture(scope="session")
def redis_url(services: tuple[str, str]) -> str:
    return services[1]


@pytest.fixture
def settings(services: tuple[str, str], tmp_path: Path):  # type: ignore[no-untyped-def]
    from voronka.settings import Settings

    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        ENVIRONMENT="test",
        DATABASE_URL=services[0],
        REDIS_URL=services[1],
        VORONKA_DATA_DIR=tmp_path / "data",
        DOCUMENTS_PATH=tmp_path / "documents",
        BACKUP_PATH=tmp_path / "backups",
        LOG_JSON=False,
        LLM_PROVIDER="offline",
        JWT_SECRET_KEY="test-secret-key-0123456789abcdef",
    )


@pytest.fixture(scope="session")
def engine(services: tuple[str, str]) -> Iterator[Engine]:
    from db.engine import make_engine

    eng = make_engine(services[0])
    yield eng
    eng.dispose()


def truncate_all(engine: Engine) -> None:
    with engine.begin() as conn:
        tables = [row[0] for row in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'"))]
        if tables:
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    # the price list is seeded by a migration: put the seed back (a test may have edited prices)
    from db.repo_pricing import seed_defaults

    with Session(engine) as session:
        seed_defaults(session, changed_by="test-seed")
        session.commit()


@pytest.fixture
def clean_db(engine: Engine) -> Engine:
    truncate_all(engine)
    return engine


@pytest.fixture
def db(clean_db: Engine) -> Iterator[Session]:
    session = Session(clean_db, expire_on_commit=False)
    yield session
    session.close()


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis_lib.Redis]:
    client = redis_lib.Redis.from_url(redis_url)
    client.flushdb()
    yield client
    client.close()


pytest_plugins = ["tests.support.web_fixtures"]
