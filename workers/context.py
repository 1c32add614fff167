"""Per-process dependencies of the actors, built once on first use after ``configure`` (no work at import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis as redis_lib
from sqlalchemy import Engine

from db.engine import make_engine
from pipelines.conversation import PipelineDeps
from pipelines.delivery import Sender
from voronka.settings import Settings


@dataclass
class WorkerRuntime:
    settings: Settings
    database_url: str
    redis_url: str
    _deps: PipelineDeps | None = None
    _senders: dict[str, Sender] | None = None

    @property
    def deps(self) -> PipelineDeps:
        if self._deps is None:
            engine = make_engine(self.database_url, pool_size=self.settings.VORONKA_WORKER_THREADS)
            redis = redis_lib.Redis.from_url(self.redis_url)
            self._deps = PipelineDeps(settings=self.settings, engine=engine, redis=redis,
                                      llm=_make_llm(self.settings, engine=engine))
        return self._deps

    @property
    def senders(self) -> dict[str, Sender]:
        if self._senders is None:
            from workers.senders import build_senders

            self._senders = build_senders(self)
        return self._senders


def _make_llm(settings: Settings, *, engine: Engine | None = None) -> Any:
    """The LLM router (None offline); its usage sink records tokens and cost per lead as ``llm_usage`` events."""
    if not settings.llm_configured or settings.LLM_PROVIDER == "offline":
        return None
    try:
        from integrations.llm.router import LLMRouter
    except ImportError:
        return None
    from pipelines.llm_usage import make_usage_sink

    return LLMRouter.from_settings(settings, usage_sink=make_usage_sink(engine))


_runtime: WorkerRuntime | None = None


def configure(settings: Settings, *, database_url: str, redis_url: str) -> WorkerRuntime:
    global _runtime
    _runtime = WorkerRuntime(settings=settings, database_url=database_url, redis_url=redis_url)
    return _runtime


def runtime() -> WorkerRuntime:
    if _runtime is None:
        raise RuntimeError("worker runtime is not configured: call workers.context.configure() first")
    return _runtime
