"""Conversation memory: the last MAX_CONTEXT_MESSAGES messages of a lead (every channel) for the dialog.

Postgres is the record. Redis keeps a copy per lead for SESSION_TTL_DAYS (refreshed after each turn); when the copy is
missing or stale (its last message id is not the newest), it is rebuilt from Postgres.
"""

from __future__ import annotations

import json
from typing import Any

from loguru import logger
from sqlmodel import Session, col, select

from db.models import Message
from pipelines.runtime import Runtime


def memory_key(lead_id: int) -> str:
    return f"voronka:memory:lead:{lead_id}"


def _from_db(session: Session, lead_id: int, before_id: int, limit: int) -> list[dict[str, Any]]:
    rows = session.exec(select(Message).where(Message.lead_id == lead_id, col(Message.id) < before_id)
                        .order_by(col(Message.id).desc()).limit(limit)).all()
    return [{"id": m.id, "role": "client" if m.direction == "in" else m.role, "text": m.text,
             "channel": m.channel} for m in reversed(rows)]


def load_history(deps: Runtime, session: Session, *, lead_id: int, before_id: int,
                 limit: int) -> list[dict[str, Any]]:
    redis = deps.redis
    if redis is not None:
        try:
            raw = redis.get(memory_key(lead_id))
            if raw:
                cached = json.loads(raw)
                newest = session.exec(select(Message.id).where(Message.lead_id == lead_id,
                                                               col(Message.id) < before_id)
                                      .order_by(col(Message.id).desc()).limit(1)).first()
                if cached.get("last_id") == newest:
                    return list(cached["messages"])[-limit:]
        except Exception as exc:  # Redis down: Postgres is the record
            logger.warning("memory cache unavailable: {}", type(exc).__name__)
    return _from_db(session, lead_id, before_id, limit)


def refresh(deps: Runtime, session: Session, *, lead_id: int, ttl_days: int, limit: int) -> None:
    """Store the lead's latest messages in Redis (called after a turn commits)."""
    if deps.redis is None:
        return
    messages = _from_db(session, lead_id, 2**31 - 1, limit)
    payload = {"last_id": messages[-1]["id"] if messages else None, "messages": messages}
    try:
        deps.redis.set(memory_key(lead_id), json.dumps(payload, ensure_ascii=False), ex=ttl_days * 86400)
    except Exception as exc:
        logger.warning("memory cache not refreshed: {}", type(exc).__name__)
