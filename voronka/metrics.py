"""Prometheus metrics: one registry, counters/histograms any module can import, and cross-process publishing.

Call sites (cheap, never raise):
- ``record_llm_usage(provider=, model=, purpose=, input_tokens=, output_tokens=, cost_usd=, latency_ms=)``
- ``observe_reply_latency(channel, seconds)`` — inbound message created → reply created
- ``funnel_step(stage, channel)`` — a lead reached a stage
- ``job_failed(actor, queue)`` — a job failed for good (the DeadLetters middleware)
- ``observe_webhook(provider, status, seconds)`` / ``observe_http(route, method, status, seconds)`` (web middleware)

The web process serves ``GET /metrics``. Worker, scheduler and bot processes publish their registry to Redis every
``METRICS_PUSH_SECONDS`` (``start_publisher``); the web merges every live snapshot into its own answer (samples with
the same name and labels are summed), then adds what is read at scrape time (queue depths, funnel, failed jobs).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import redis as redis_lib
from loguru import logger
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

REGISTRY = CollectorRegistry(auto_describe=True)
PUBLISH_PREFIX = "voronka:metrics:proc:"

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
REPLY_BUCKETS = (0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 900.0, 3600.0)
LLM_BUCKETS = (0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)

HTTP_REQUESTS = Counter("voronka_http_requests_total", "HTTP requests by route pattern, method and status",
                        ["route", "method", "status"], registry=REGISTRY)
HTTP_LATENCY = Histogram("voronka_http_request_seconds", "HTTP request handling time", ["route"],
                         buckets=LATENCY_BUCKETS, registry=REGISTRY)
WEBHOOKS = Counter("voronka_webhooks_total", "Provider webhooks received, by provider and HTTP status",
                   ["provider", "status"], registry=REGISTRY)
WEBHOOK_LATENCY = Histogram("voronka_webhook_seconds", "Time to accept a provider webhook", ["provider"],
                            buckets=LATENCY_BUCKETS, registry=REGISTRY)
JOB_FAILURES = Counter("voronka_job_failures_total", "Jobs that failed for good (dead letters)",
                       ["actor", "queue"], registry=REGISTRY)
LLM_CALLS = Counter("voronka_llm_calls_total", "LLM calls", ["provider", "model", "purpose"], registry=REGISTRY)
LLM_LATENCY = Histogram("voronka_llm_latency_seconds", "LLM call latency", ["provider", "model"],
                        buckets=LLM_BUCKETS, registry=REGISTRY)
LLM_TOKENS = Counter("voronka_llm_tokens_total", "LLM tokens", ["provider", "model", "direction"],
                     registry=REGISTRY)
LLM_COST = Counter("voronka_llm_cost_usd_total", "LLM cost, US dollars", ["provider", "model"], registry=REGISTRY)
REPLY_LATENCY = Histogram("voronka_reply_latency_seconds", "Client message → our reply", ["channel"],
                          buckets=REPLY_BUCKETS, registry=REGISTRY)
FUNNEL_STEPS = Counter("voronka_funnel_steps_total", "Leads reaching a funnel stage (live counter)",
                       ["stage", "channel"], registry=REGISTRY)


def _safe(fn: Any) -> Any:
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except Exception:
            logger.exception("metrics update failed")

    wrapper.__doc__ = fn.__doc__
    wrapper.__name__ = fn.__name__
    return wrapper


@_safe
def record_llm_usage(*, provider: str, model: str, purpose: str = "other", input_tokens: int = 0,
                     output_tokens: int = 0, cost_usd: float = 0.0, latency_ms: float = 0.0) -> None:
    """One LLM call: count, latency, tokens in/out, cost."""
    LLM_CALLS.labels(provider, model, purpose).inc()
    LLM_LATENCY.labels(provider, model).observe(max(0.0, float(latency_ms)) / 1000.0)
    LLM_TOKENS.labels(provider, model, "input").inc(max(0, int(input_tokens)))
    LLM_TOKENS.labels(provider, model, "output").inc(max(0, int(output_tokens)))
    LLM_COST.labels(provider, model).inc(max(0.0, float(cost_usd)))


@_safe
def observe_reply_latency(channel: str, seconds: float) -> None:
    REPLY_LATENCY.labels(channel or "unknown").observe(max(0.0, float(seconds)))


@_safe
def funnel_step(stage: str, channel: str | None) -> None:
    FUNNEL_STEPS.labels(stage, channel or "unknown").inc()


@_safe
def job_failed(actor: str, queue: str) -> None:
    JOB_FAILURES.labels(actor, queue).inc()


@_safe
def observe_webhook(provider: str, status: int, seconds: float) -> None:
    WEBHOOKS.labels(provider, str(status)).inc()
    WEBHOOK_LATENCY.labels(provider).observe(seconds)


@_safe
def observe_http(route: str, method: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(route, method, str(status)).inc()
    HTTP_LATENCY.labels(route).observe(seconds)


# --- cross-process publishing --------------------------------------------------------------------------------
def snapshot() -> bytes:
    return generate_latest(REGISTRY)


def publish_key(process: str) -> str:
    return f"{PUBLISH_PREFIX}{process}:{socket.gethostname()}:{os.getpid()}"


def publish_once(redis: Any, process: str, ttl_seconds: int) -> None:
    redis.set(publish_key(process), snapshot(), ex=max(ttl_seconds, 5))


class Publisher:
    """A daemon thread writing this process's registry to Redis every ``interval`` seconds (and once on stop)."""

    def __init__(self, redis_url: str, process: str, interval: float) -> None:
        self.redis = redis_lib.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5)
        self.process = process
        self.interval = interval
        self.ttl = int(max(interval * 3, 30))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"metrics-{process}", daemon=True)

    def start(self) -> Publisher:
        self._thread.start()
        return self

    def _push(self) -> None:
        try:
            publish_once(self.redis, self.process, self.ttl)
        except Exception as exc:  # Redis down: the next tick tries again; metrics must never stop a worker
            logger.warning("metrics publish failed: {}", type(exc).__name__)

    def _run(self) -> None:
        self._push()
        while not self._stop.wait(self.interval):
            self._push()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._push()
        self.redis.close()


def start_publisher(redis_url: str, process: str, interval: float) -> Publisher:
    return Publisher(redis_url, process, interval).start()


# --- merging --------------------------------------------------------------------------------------------------
class _Families:
    """A collector yielding prepared metric families (for ``generate_latest``)."""

    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merge_texts(texts: Iterable[bytes | str]) -> list[Metric]:
    """Sum samples with the same name and labels across exposition texts (``_created`` samples dropped)."""
    merged: dict[str, Metric] = {}
    values: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for text in texts:
        decoded = text.decode("utf-8") if isinstance(text, bytes) else text
        for family in text_string_to_metric_families(decoded):
            target = merged.get(family.name)
            if target is None:
                target = merged[family.name] = Metric(family.name, family.documentation, family.type)
                values[family.name] = {}
            bucket = values[family.name]
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                key = (sample.name, tuple(sorted(sample.labels.items())))
                bucket[key] = bucket.get(key, 0.0) + float(sample.value)
    for name, family in merged.items():
        for (sample_name, labels), value in values[name].items():
            family.add_sample(sample_name, dict(labels), value)
    return list(merged.values())


def render(families: Iterable[Metric]) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    return generate_latest(registry)
