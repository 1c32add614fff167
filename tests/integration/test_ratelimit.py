"""Per-IP rate limit on the public endpoints (real Redis sliding window): the request over the limit gets 429 JSON
in Russian with Retry-After; webhooks, health and static files are not limited; a long-poll counts once."""

from __future__ import annotations

import asyncio
import time

from aiohttp.test_utils import TestClient, TestServer

from web.ratelimit import client_ip


def limited_client(settings, services, broker, **overrides):  # type: ignore[no-untyped-def]
    from web.app import create_app

    configured = settings.model_copy(update=overrides)
    app = create_app(configured, database_url=services[0], redis_url=services[1], broker=broker)
    return TestClient(TestServer(app))


BRIEF = {"product": "ai_manager", "users": 10}


async def test_the_61st_request_in_a_minute_is_refused(client, settings) -> None:  # type: ignore[no-untyped-def]
    assert settings.RATE_LIMIT_PER_MINUTE == 60
    for i in range(60):
        response = await client.post("/api/v1/quote", json=BRIEF)
        assert response.status == 200, i
    refused = await client.post("/api/v1/quote", json=BRIEF)
    assert refused.status == 429
    body = await refused.json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["field"] is None
    assert "запрос" in body["error"]["message"]
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    # the limit is per IP across the public endpoints, pages included
    assert (await client.get("/api/v1/site/messages", params={"session_id": "x"})).status == 429
    assert (await client.post("/api/v1/site/leads", json={})).status == 429
    assert (await client.get("/")).status == 429


async def test_the_window_slides(settings, services, broker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    async with limited_client(settings, services, broker, RATE_LIMIT_PER_MINUTE=3) as http:
        from web.ratelimit import SlidingWindowLimiter

        assert [(await http.post("/api/v1/quote", json=BRIEF)).status for _ in range(4)] == [200, 200, 200, 429]
        # a 2-second window on the same Redis: requests come back once the oldest ones leave it
        from redis.asyncio import Redis

        redis = Redis.from_url(services[1])
        limiter = SlidingWindowLimiter(redis, limit=2, window_ms=2000, prefix="test:window:")
        assert [(await limiter.hit("ip")).allowed for _ in range(3)] == [True, True, False]
        blocked = await limiter.hit("ip")
        assert 0 < blocked.retry_after <= 2
        await asyncio.sleep(blocked.retry_after + 0.1)
        assert (await limiter.hit("ip")).allowed
        await redis.aclose()


async def test_webhooks_health_static_and_admin_are_not_limited(settings, services, broker, clean_db,  # type: ignore[no-untyped-def]
                                                          redis_client) -> None:
    async with limited_client(settings, services, broker, RATE_LIMIT_PER_MINUTE=2) as http:
        for _ in range(2):
            assert (await http.post("/api/v1/quote", json=BRIEF)).status == 200
        assert (await http.post("/api/v1/quote", json=BRIEF)).status == 429
        for _ in range(5):
            # whatever a webhook route answers (404 when that receiver is not mounted), it is never a 429
            webhook = await http.post("/api/v1/webhooks/avito", json={})
            assert webhook.status != 429
            assert (await http.get("/health")).status == 200
            assert (await http.get("/static/site.css")).status == 200
            assert (await http.get("/ready")).status != 429
            assert (await http.get("/api/v1/admin/leads")).status != 429  # staff: behind their own login guard


async def test_a_long_poll_counts_once(settings, services, broker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    async with limited_client(settings, services, broker, RATE_LIMIT_PER_MINUTE=3) as http:
        started = time.monotonic()
        # held ~5 s, re-reading the database every 2 s inside: still one request
        response = await http.get("/api/v1/site/messages", params={"session_id": "poll-1", "wait": "5"})
        assert response.status == 200 and time.monotonic() - started >= 4.5
        assert response.headers["X-RateLimit-Remaining"] == "2"
        assert (await http.get("/api/v1/site/messages", params={"session_id": "poll-1", "wait": "1"})).status == 200
        assert (await http.get("/api/v1/site/messages", params={"session_id": "poll-1"})).status == 200
        assert (await http.get("/api/v1/site/messages", params={"session_id": "poll-1"})).status == 429


async def test_each_ip_has_its_own_budget_behind_a_trusted_proxy(settings, services, broker, clean_db,  # type: ignore[no-untyped-def]
                                                                 redis_client) -> None:
    async with limited_client(settings, services, broker, RATE_LIMIT_PER_MINUTE=2,
                              TRUSTED_PROXIES=["127.0.0.0/8", "::1"]) as http:
        for _ in range(2):
            ok = await http.post("/api/v1/quote", json=BRIEF, headers={"X-Forwarded-For": "203.0.113.7"})
            assert ok.status == 200
        assert (await http.post("/api/v1/quote", json=BRIEF,
                                headers={"X-Forwarded-For": "203.0.113.7"})).status == 429
        other = await http.post("/api/v1/quote", json=BRIEF, headers={"X-Forwarded-For": "198.51.100.9"})
        assert other.status == 200
    # without trusting the proxy the header is ignored: everyone behind it shares the peer's budget
    async with limited_client(settings, services, broker, RATE_LIMIT_PER_MINUTE=2) as http:
        redis_client.flushdb()
        statuses = [(await http.post("/api/v1/quote", json=BRIEF, headers={"X-Forwarded-For": f"198.51.100.{i}"}))
                    .status for i in range(3)]
        assert statuses == [200, 200, 429]


def test_client_ip_reads_forwarded_for_only_from_trusted_proxies() -> None:
    trusted = ["10.0.0.0/8", "192.168.1.5"]
    assert client_ip("203.0.113.1", "1.2.3.4", trusted) == "203.0.113.1"
    assert client_ip("10.1.2.3", "1.2.3.4", trusted) == "1.2.3.4"
    # a spoofed left-most hop is skipped: the right-most untrusted address is the client
    assert client_ip("10.1.2.3", "6.6.6.6, 1.2.3.4, 192.168.1.5", trusted) == "1.2.3.4"
    assert client_ip("10.1.2.3", "garbage", trusted) == "10.1.2.3"
    assert client_ip("10.1.2.3", None, trusted) == "10.1.2.3"
    assert client_ip("10.1.2.3", "1.2.3.4", []) == "10.1.2.3"
