"""Where Postgres and Redis are: the URLs from settings, else the embedded servers of ``VORONKA_DATA_DIR``; and the
wrapper that runs a command's body against them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from db import crypto
from db.embedded import EmbeddedServices
from db.engine import make_engine
from db.migrate import upgrade
from voronka.settings import Settings

ServicesBody = Callable[[str, str], int]  # (database URL, Redis URL) -> exit code


@dataclass
class ServiceUrls:
    database_url: str
    redis_url: str
    embedded: EmbeddedServices | None = None


@contextmanager
def service_urls(settings: Settings, *, own: bool = False) -> Iterator[ServiceUrls]:
    """Yield the URLs to use. With no URLs configured, join the running embedded servers of the data dir or start
    them (``own=True`` always starts, for ``voronka run``) and stop them on exit if we started them."""
    database_url, redis_url = settings.DATABASE_URL, settings.redis_url
    if database_url and redis_url:
        yield ServiceUrls(database_url, redis_url)
        return
    embedded = EmbeddedServices(settings.data_dir)
    if own:
        embedded.data_dir.mkdir(parents=True, exist_ok=True)
        embedded.start()
    else:
        embedded.ensure()
    try:
        yield ServiceUrls(database_url or embedded.database_url, redis_url or embedded.redis_url, embedded)
    finally:
        embedded.stop()


def with_services(settings: Settings, body: ServicesBody, *, migrate: bool = True,
                  personal_data: bool = False) -> int:
    """Run ``body`` with the URLs of :func:`service_urls`, the schema migrated first unless ``migrate=False``;
    ``personal_data=True`` configures the key ring of the encrypted columns first (commands that read or write them).
    """
    if personal_data:
        crypto.configure(settings)
    with service_urls(settings) as urls:
        if migrate:
            upgrade(urls.database_url)
        return body(urls.database_url, urls.redis_url)


@contextmanager
def one_connection_engine(database_url: str) -> Iterator[Engine]:
    """A sync engine of one pooled connection for a one-shot command, disposed on exit."""
    engine = make_engine(database_url, pool_size=1)
    try:
        yield engine
    finally:
        engine.dispose()
