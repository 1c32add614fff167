"""Tokens and cost of every LLM call, recorded per lead as ``Event(kind="llm_usage")`` rows (and metrics).

The router calls its usage sink with whatever the caller passed as ``lead_id``. Callers in a conversation turn pass
a ``UsageTag`` (lead, channel, purpose, and a buffer): the turn holds the lead's row lock (``SELECT … FOR UPDATE``),
so a separate transaction inserting an event that references the lead would wait for the turn to commit while the
turn waits for the LLM answer. The sink therefore appends to the tag's buffer and the turn writes the rows in its own
transaction (``write_buffered``). A plain lead id (or a tag without a buffer) is written in a short transaction of
its own. Prometheus counters are incremented when ``voronka.metrics`` provides ``record_llm_usage``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session

from db.models import Event

if TYPE_CHECKING:
    from integrations.llm.router import LLMResult, LLMRouter

EVENT_KIND = "llm_usage"


@dataclass(frozen=True)
class UsageRecord:
    lead_id: int | None
    channel: str | None
    data: dict[str, Any]


@dataclass(frozen=True)
class UsageTag:
    """What an LLM call is for; passed to the router as its ``lead_id``."""

    lead_id: int | None
    purpose: str = "other"
    channel: str | None = None
    buffer: list[UsageRecord] | None = field(default=None, compare=False)

    def for_purpose(self, purpose: str) -> UsageTag:
        """The same lead and buffer, another purpose."""
        return replace(self, purpose=purpose)


def usage_record(tag: Any, result: LLMResult) -> UsageRecord:
    if isinstance(tag, UsageTag):
        lead_id, channel, purpose = tag.lead_id, tag.channel, tag.purpose
    else:
        lead_id = tag if isinstance(tag, int) and not isinstance(tag, bool) else None
        channel, purpose = None, "other"
    data = {
        "provider": result.provider,
        "model": result.model,
        "input_tokens": int(result.input_tokens),
        "output_tokens": int(result.output_tokens),
        "cost_usd": float(result.cost_usd),
        "latency_ms": int(result.latency_ms),
        "purpose": purpose,
    }
    if result.first_token_ms is not None:
        data["first_token_ms"] = int(result.first_token_ms)
    return UsageRecord(lead_id=lead_id, channel=channel, data=data)


def add_events(session: Session, records: list[UsageRecord]) -> int:
    """Add one ``llm_usage`` event per record to ``session`` (no commit); how many were added."""
    for record in records:
        session.add(Event(lead_id=record.lead_id, kind=EVENT_KIND, channel=record.channel, data=dict(record.data)))
    return len(records)


def write_buffered(session: Session, tag: UsageTag | None) -> int:
    """Move the tag's buffered records into ``session`` (the turn's transaction) and empty the buffer."""
    if tag is None or not tag.buffer:
        return 0
    records = list(tag.buffer)
    tag.buffer.clear()
    return add_events(session, records)


def _metrics_hook() -> Callable[..., Any] | None:
    try:
        module = importlib.import_module("voronka.metrics")
    except ImportError:
        return None
    hook = getattr(module, "record_llm_usage", None)
    return hook if callable(hook) else None


def observe(record: UsageRecord) -> None:
    """Prometheus: ``voronka.metrics.record_llm_usage(provider=, model=, purpose=, input_tokens=, output_tokens=,
    cost_usd=, latency_ms=)`` when that module exists. A metrics failure never costs a reply (logged)."""
    hook = _metrics_hook()
    if hook is None:
        return
    data = record.data
    try:
        hook(provider=data["provider"], model=data["model"], purpose=data["purpose"],
             input_tokens=data["input_tokens"], output_tokens=data["output_tokens"], cost_usd=data["cost_usd"],
             latency_ms=data["latency_ms"])
    except Exception:
        logger.exception("LLM usage metrics failed")


UsageSinkFn = Callable[[Any, "LLMResult"], None]


def make_usage_sink(engine: Engine | None) -> UsageSinkFn:
    """The router's ``usage_sink``: buffer for a turn's tag, else an event in its own short transaction."""

    def sink(tag: Any, result: LLMResult) -> None:
        record = usage_record(tag, result)
        observe(record)
        if isinstance(tag, UsageTag) and tag.buffer is not None:
            tag.buffer.append(record)
            return
        if engine is None:
            return
        with Session(engine) as session:
            add_events(session, [record])
            session.commit()

    return sink


class TaggedLLM:
    """The router as ``pipelines.understand.llm_refine`` sees it (``complete_json``), every call tagged for usage."""

    def __init__(self, llm: LLMRouter, tag: UsageTag) -> None:
        self._llm = llm
        self.tag = tag

    async def complete_json(self, system: str, user: str, *, timeout: float, max_tokens: int = 600) -> dict[str, Any]:
        result: dict[str, Any] = await self._llm.complete_json(system, user, timeout=timeout, lead_id=self.tag,
                                                               max_tokens=max_tokens)
        return result
