"""The worker process's dependencies: one ``pipelines.runtime.Runtime``, the channel clients and the outbox senders,
built once on first use after ``configure`` (no work at import), closed by ``close``."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis as redis_lib
from sqlalchemy import Engine

from db.engine import make_engine
from pipelines.channels.clients import ChannelClients
from pipelines.delivery import Sender
from pipelines.llm_usage import make_usage_sink
from pipelines.runtime import Runtime
from voronka.asyncbridge import shared_bridge
from voronka.settings import Settings
from workers.senders import build_senders

if TYPE_CHECKING:
    from integrations.llm.router import LLMRouter


@dataclass
class WorkerContext:
    settings: Settings
    database_url: str
    redis_url: str
    _deps: Runtime | None = None
    _channel_clients: ChannelClients | None = None
    _senders: dict[str, Sender] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def deps(self) -> Runtime:
        """The process's runtime (engine, Redis, LLM router, channel clients, the async bridge)."""
        if self._deps is None:
            with self._lock:
                if self._deps is None:
                    self._deps = build_runtime(self.settings, database_url=self.database_url,
                                               redis_url=self.redis_url)
        return self._deps

    @property
    def channel_clients(self) -> ChannelClients:
        """The Avito and Telegram clients, on the runtime's async bridge."""
        if self._channel_clients is None:
            bridge = self.deps.bridge  # outside the lock: ``deps`` takes it too
            with self._lock:
                if self._channel_clients is None:
                    self._channel_clients = ChannelClients(self.settings, redis_url=self.redis_url, bridge=bridge)
        return self._channel_clients

    @property
    def senders(self) -> dict[str, Sender]:
        if self._senders is None:
            self._senders = build_senders(self.deps, self.channel_clients)
        return self._senders

    def close(self) -> None:
        if self._channel_clients is not None:
            self._channel_clients.run(self._channel_clients.aclose(), timeout=10)
            self._channel_clients = None
        if self._deps is not None:
            self._deps.close()
            self._deps.engine.dispose()
            self._deps = None
        self._senders = None


def build_runtime(settings: Settings, *, database_url: str, redis_url: str) -> Runtime:
    engine = make_engine(database_url, pool_size=settings.VORONKA_WORKER_THREADS)
    return Runtime(settings=settings, engine=engine, redis=redis_lib.Redis.from_url(redis_url),
                   llm=make_llm(settings, engine=engine), redis_url=redis_url, bridge=shared_bridge())


def make_llm(settings: Settings, *, engine: Engine | None = None) -> LLMRouter | None:
    """The LLM router (None offline); its usage sink records tokens and cost per lead as ``llm_usage`` events."""
    if not settings.llm_configured:
        return None
    from integrations.llm.router import LLMRouter  # reason: the OpenAI/Anthropic SDKs take seconds to import

    return LLMRouter.from_settings(settings, usage_sink=make_usage_sink(engine))


_context: WorkerContext | None = None


def configure(settings: Settings, *, database_url: str, redis_url: str) -> WorkerContext:
    global _context
    _context = WorkerContext(settings=settings, database_url=database_url, redis_url=redis_url)
    return _context


def runtime() -> WorkerContext:
    if _context is None:
        raise RuntimeError("worker runtime is not configured: call workers.context.configure() first")
    return _context


def close() -> None:
    """Close the runtime's async clients (at worker shutdown, after the Dramatiq worker stopped)."""
    if _context is not None:
        _context.close()
