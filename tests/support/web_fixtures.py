from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from tests.support.processes import VoronkaProcess


@pytest.fixture
def broker(settings, services):  # type: ignore[no-untyped-def]
    from workers.broker import setup_broker

    created = setup_broker(settings, database_url=services[0], redis_url=services[1])
    yield created
    created.close()


@pytest.fixture
async def client(settings, services, broker, clean_db, redis_client) -> AsyncIterator[TestClient[Any, Any]]:  # type: ignore[no-untyped-def]
    from web.app import create_app

    app = create_app(settings, database_url=services[0], redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


@pytest.fixture
def start_worker(services, tmp_path: Path) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    started: list[VoronkaProcess] = []

    def start(**env: str) -> VoronkaProcess:
        proc = VoronkaProcess("worker", database_url=services[0], redis_url=services[1], data_dir=tmp_path,
                              env=env).start(ready_text="worker started")
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture
def knowledge(settings, clean_db):  # type: ignore[no-untyped-def]
    """The shipped knowledge base, ingested into the (clean) test database."""
    from pipelines.knowledge.cli import rescan

    report = rescan(settings, engine=clean_db)
    assert not report.failed
    return report
