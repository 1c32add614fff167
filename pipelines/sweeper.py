"""The inbox sweeper: finds work that was persisted but never finished (a message lost from Redis, a worker killed
mid-job) so the scheduler can enqueue it again. Every re-run is safe: the pipeline and delivery are idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Engine, update
from sqlmodel import col, select

from db.engine import session_scope
from db.models import Message, Outbox, utcnow

MAX_INBOX_ATTEMPTS = 6
STUCK_SENDING_MINUTES = 10


@dataclass
class SweepResult:
    inbox: list[int]
    outbox: list[tuple[int, str]]
    stuck: list[int]


def sweep(engine: Engine, *, older_than_seconds: int, limit: int = 500) -> SweepResult:
    now = utcnow()
    cutoff = now - timedelta(seconds=older_than_seconds)
    with session_scope(engine) as session:
        inbox = session.exec(
            select(Message.id).where(Message.direction == "in", col(Message.processed_at).is_(None),
                                     Message.created_at < cutoff, Message.attempts < MAX_INBOX_ATTEMPTS)
            .order_by(col(Message.id)).limit(limit)).all()
        outbox = session.exec(
            select(Outbox.id, Outbox.kind).where(Outbox.status == "pending", Outbox.created_at < cutoff)
            .order_by(col(Outbox.id)).limit(limit)).all()
        stuck_cutoff = now - timedelta(minutes=STUCK_SENDING_MINUTES)
        stuck = session.exec(
            select(Outbox.id).where(Outbox.status == "sending", Outbox.created_at < stuck_cutoff)
            .limit(limit)).all()
        if stuck:
            session.execute(update(Outbox).where(col(Outbox.id).in_(stuck))
                            .values(status="unknown",
                                    last_error="delivery interrupted; not resent to avoid a duplicate"))
    return SweepResult([int(i) for i in inbox if i], [(int(i), str(k)) for i, k in outbox if i],
                       [int(i) for i in stuck if i])
