"""GET /metrics on the real app: open or Bearer-protected, webhook counts and latency, queue depths, failed jobs,
funnel, LLM usage, metrics published by other processes (a real worker) merged in."""

from __future__ import annotations

import asyncio
import time

from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import Session

from db.models import FailedJob
from voronka import metrics
from web import keys
from workers.enqueue import enqueue


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


async def scrape(client, **headers: str) -> str:  # type: ignore[no-untyped-def]
    response = await client.get("/metrics", headers=headers)
    assert response.status == 200, await response.text()
    assert response.content_type.startswith("text/plain")
    return str(await response.text())


async def test_metrics_token_is_required_when_set(settings, services, broker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    from aiohttp.test_utils import TestClient, TestServer

    from web.app import create_app

    app = create_app(settings.model_copy(update={"METRICS_TOKEN": "scrape-token-123"}), database_url=services[0],
                     redis_url=services[1], broker=broker)
    async with TestClient(TestServer(app)) as client:
        assert (await client.get("/metrics")).status == 401
        assert (await client.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 401
        assert "voronka_scrape_source_up" in await scrape(client, Authorization="Bearer scrape-token-123")


async def test_webhooks_queue_depths_failed_jobs_and_funnel(client, clean_db, broker, redis_client) -> None:  # type: ignore[no-untyped-def]
    before = await scrape(client)
    base = value(before, "voronka_webhooks_total", provider="avito", status="404") or 0.0
    response = await client.post("/api/v1/webhooks/avito/not-the-secret", json={"x": 1})
    status = response.status
    response = await client.post("/api/v1/site/messages", json={"session_id": "metrics-1", "text": "Здравствуйте"})
    assert response.status == 202  # no worker: the job waits in the queue
    enqueue(broker, "maintenance.sweep")
    with Session(clean_db) as session:
        session.add(FailedJob(actor="outbox.deliver", queue="delivery", message_id="m", args=[1], error="boom"))
        session.commit()
    client.app[keys.METRICS_DB].clear()  # a scrape before this one may have cached the DB part
    text = await scrape(client)
    assert (value(text, "voronka_webhooks_total", provider="avito", status=str(status)) or 0.0) >= 1.0
    if status == 404:
        assert value(text, "voronka_webhooks_total", provider="avito", status="404") == base + 1
    assert (value(text, "voronka_webhook_seconds_count", provider="avito") or 0) >= 1
    assert value(text, "voronka_queue_messages", queue="inbound", state="ready") == 1
    assert value(text, "voronka_queue_messages", queue="maintenance", state="ready") == 1
    assert value(text, "voronka_failed_jobs", actor="outbox.deliver", queue="delivery") == 1
    assert value(text, "voronka_funnel_leads", stage="contact", channel="site") == 1
    assert value(text, "voronka_leads", stage="new", channel="site") == 1
    assert (value(text, "voronka_http_requests_total", route="/api/v1/site/messages", method="POST", status="202")
            or 0) >= 1
    assert value(text, "voronka_scrape_source_up", source="database") == 1


async def test_llm_usage_hook_is_exported(client) -> None:  # type: ignore[no-untyped-def]
    before = await scrape(client)
    calls = value(before, "voronka_llm_calls_total", provider="openai", model="gpt-4o-mini", purpose="reply") or 0
    tokens = value(before, "voronka_llm_tokens_total", provider="openai", model="gpt-4o-mini", direction="output") or 0
    metrics.record_llm_usage(provider="openai", model="gpt-4o-mini", purpose="reply", input_tokens=120,
                             output_tokens=45, cost_usd=0.0003, latency_ms=850)
    text = await scrape(client)
    assert value(text, "voronka_llm_calls_total", provider="openai", model="gpt-4o-mini", purpose="reply") == calls + 1
    assert value(text, "voronka_llm_tokens_total", provider="openai", model="gpt-4o-mini",
                 direction="output") == tokens + 45
    assert (value(text, "voronka_llm_latency_seconds_bucket", provider="openai", model="gpt-4o-mini", le="1.0")
            or 0) >= 1


async def test_worker_metrics_are_published_and_merged(client, start_worker, clean_db, redis_client) -> None:  # type: ignore[no-untyped-def]
    start_worker(METRICS_PUSH_SECONDS="0.5")
    redis = client.app[keys.REDIS]
    found: list[bytes] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not found:
        found = [k async for k in redis.scan_iter(match=f"{metrics.PUBLISH_PREFIX}worker:*")]
        await asyncio.sleep(0.2)
    assert found, "the worker never published its metrics"
    snapshot = await redis.get(found[0])
    assert b"voronka_job_failures_total" in snapshot and b"voronka_llm_calls_total" in snapshot
    # what another process published is summed into the web's answer
    other = (b"# HELP voronka_job_failures_total Jobs\n# TYPE voronka_job_failures_total counter\n"
             b'voronka_job_failures_total{actor="integrate.action",queue="integrate"} 3.0\n')
    await redis.set(f"{metrics.PUBLISH_PREFIX}worker:other-host:1", other, ex=30)
    await redis.set(f"{metrics.PUBLISH_PREFIX}scheduler:other-host:2", other, ex=30)
    text = await scrape(client)
    assert value(text, "voronka_job_failures_total", actor="integrate.action", queue="integrate") == 6.0


def test_merge_sums_counters_and_histograms_across_processes() -> None:
    a = (b"# HELP voronka_x_total X\n# TYPE voronka_x_total counter\nvoronka_x_total{k=\"a\"} 2.0\n"
         b"# HELP voronka_h_seconds H\n# TYPE voronka_h_seconds histogram\n"
         b"voronka_h_seconds_bucket{le=\"1.0\"} 1.0\nvoronka_h_seconds_bucket{le=\"+Inf\"} 2.0\n"
         b"voronka_h_seconds_count 2.0\nvoronka_h_seconds_sum 3.5\n")
    b = (b"# HELP voronka_x_total X\n# TYPE voronka_x_total counter\nvoronka_x_total{k=\"a\"} 5.0\n"
         b"voronka_x_total{k=\"b\"} 1.0\n"
         b"# HELP voronka_h_seconds H\n# TYPE voronka_h_seconds histogram\n"
         b"voronka_h_seconds_bucket{le=\"1.0\"} 0.0\nvoronka_h_seconds_bucket{le=\"+Inf\"} 1.0\n"
         b"voronka_h_seconds_count 1.0\nvoronka_h_seconds_sum 9.0\n")
    text = metrics.render(metrics.merge_texts([a, b])).decode()
    assert value(text, "voronka_x_total", k="a") == 7.0 and value(text, "voronka_x_total", k="b") == 1.0
    assert value(text, "voronka_h_seconds_count") == 3.0 and value(text, "voronka_h_seconds_sum") == 12.5
    assert value(text, "voronka_h_seconds_bucket", le="+Inf") == 3.0
    assert "# TYPE voronka_x_total counter" in text
