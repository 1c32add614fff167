"""``pipelines.runtime.Runtime``: typed fields, members made once on first use, the process's async bridge."""

from __future__ import annotations

import dataclasses

import redis as redis_lib
from sqlalchemy import create_engine

from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.runtime import Runtime
from voronka.asyncbridge import AsyncBridge, shared_bridge
from voronka.settings import Settings


def _runtime(**fields: object) -> Runtime:
    settings = Settings(KB_EMBEDDER="offline", REDIS_URL="", UPSTASH_REDIS_URL="")  # type: ignore[call-arg]
    return Runtime(settings=settings, engine=create_engine("sqlite://"), **fields)  # type: ignore[arg-type]


def test_fields_are_typed_and_there_is_no_extras_bag() -> None:
    names = {f.name for f in dataclasses.fields(Runtime)}
    assert names == {"settings", "engine", "redis", "llm", "redis_url", "bridge"}
    hints = {f.name: str(f.type) for f in dataclasses.fields(Runtime)}
    assert not any("Any" in hint for hint in hints.values()), hints


def test_the_default_bridge_is_the_process_one() -> None:
    assert _runtime().bridge is shared_bridge()


def test_the_embedder_is_made_once_on_first_use() -> None:
    runtime = _runtime()
    assert "embedder" not in runtime.__dict__
    first = runtime.embedder
    assert isinstance(first, OfflineEmbedder) and runtime.embedder is first


def test_the_async_redis_follows_the_url_else_the_sync_client() -> None:
    by_url = _runtime(redis_url="redis://127.0.0.1:6399/3").async_redis
    assert by_url.connection_pool.connection_kwargs["port"] == 6399
    assert by_url.connection_pool.connection_kwargs["db"] == 3
    sync = redis_lib.Redis(host="127.0.0.1", port=6398, db=2)
    derived = _runtime(redis=sync).async_redis
    assert (derived.connection_pool.connection_kwargs["port"],
            derived.connection_pool.connection_kwargs["db"]) == (6398, 2)
    runtime = _runtime(redis=sync)
    assert runtime.async_redis is runtime.async_redis


def test_close_closes_what_was_made_on_its_bridge() -> None:
    bridge = AsyncBridge(name="runtime-test")
    try:
        runtime = _runtime(redis_url="redis://127.0.0.1:6399/0", bridge=bridge)
        runtime.close()  # nothing made yet: nothing to close, no loop started
        assert not bridge.running
        client = runtime.async_redis
        runtime.close()
        assert bridge.running  # aclose ran on the bridge
        assert client.connection_pool is not None
    finally:
        bridge.close()
