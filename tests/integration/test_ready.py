"""/health is alive; /ready checks Postgres, Redis and the broker and answers 503 while Postgres is down."""

from __future__ import annotations

from aiohttp.test_utils import TestClient, TestServer

from db.embedded import EmbeddedServices
from db.migrate import upgrade
from web.app import create_app
from workers.broker import setup_broker


async def test_ready_reports_each_check_and_503_when_postgres_is_down(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    own = EmbeddedServices(tmp_path / "own", redis_persist=False)
    own.start()
    try:
        upgrade(own.database_url)
        broker = setup_broker(settings, database_url=own.database_url, redis_url=own.redis_url)
        app = create_app(settings, database_url=own.database_url, redis_url=own.redis_url, broker=broker)
        async with TestClient(TestServer(app)) as client:
            assert (await client.get("/health")).status == 200
            response = await client.get("/ready")
            body = await response.json()
            assert response.status == 200, body
            assert body["checks"]["postgres"]["ok"] and body["checks"]["redis"]["ok"] and body["checks"]["broker"]["ok"]
            own._stop_postgres()
            response = await client.get("/ready")
            body = await response.json()
            assert response.status == 503
            assert body["checks"]["postgres"]["ok"] is False and body["checks"]["redis"]["ok"] is True
            assert (await client.get("/health")).status == 200  # alive even when not ready
        broker.close()
    finally:
        own.stop()
