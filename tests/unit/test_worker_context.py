"""``workers.context``: the worker's runtime, channel clients and senders are built once per process, on first use."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from pipelines.runtime import Runtime
from voronka.asyncbridge import shared_bridge
from voronka.settings import Settings
from workers.context import WorkerContext


def _context() -> WorkerContext:
    settings = Settings(LLM_PROVIDER="offline", KB_EMBEDDER="offline")  # type: ignore[call-arg]
    # nothing connects before the first query: the URLs only have to parse
    return WorkerContext(settings=settings, database_url="postgresql://u:p@127.0.0.1:1/none",
                         redis_url="redis://127.0.0.1:1/0")


def test_one_runtime_for_every_thread() -> None:
    context = _context()
    with ThreadPoolExecutor(max_workers=8) as pool:
        seen = set(pool.map(lambda _: id(context.deps), range(32)))
    assert len(seen) == 1
    deps = context.deps
    assert isinstance(deps, Runtime)
    assert deps.llm is None and deps.redis is not None and deps.redis_url == "redis://127.0.0.1:1/0"
    assert deps.bridge is shared_bridge()
    context.close()


def test_channel_clients_and_senders_share_the_runtime_bridge() -> None:
    context = _context()
    clients = context.channel_clients
    assert clients is context.channel_clients and clients.bridge is context.deps.bridge
    assert set(context.senders) == {"message:site", "message:telegram", "message:avito", "notify"}
    context.close()
    assert context._deps is None and context._channel_clients is None
