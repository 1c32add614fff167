"""Where Postgres and Redis are: the URLs from settings, else the embedded servers of ``VORONKA_DATA_DIR``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from db.embedded import EmbeddedServices
from voronka.settings import Settings


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


def running_redis_url(settings: Settings) -> str:
    """The Redis URL from settings, else that of the embedded servers already running for the data dir, else "".
    Starts nothing (``voronka health``)."""
    if settings.redis_url:
        return settings.redis_url
    state = EmbeddedServices(settings.data_dir).read_state()
    return state.redis_url if state is not None else ""
