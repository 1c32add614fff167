"""Delivery of outbox rows: each row is sent at most once.

A row is claimed (pending → sending) and committed before the external call; it becomes ``sent`` after it. A failure
with a definite answer returns it to ``pending`` for a retry; a crash mid-call leaves it ``sending`` and the sweeper
flags it for a manager instead of risking a second send.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from loguru import logger
from sqlalchemy import Engine, update
from sqlmodel import Session

from db.engine import session_scope
from db.models import Conversation, Message, Outbox, utcnow
from voronka.errors import UpstreamError


class Sender(Protocol):
    def __call__(self, session: Session, outbox: Outbox, conversation: Conversation | None,
                 message: Message | None) -> dict[str, Any] | None: ...


@dataclass
class DeliveryResult:
    outbox_id: int
    status: str  # sent | skipped | failed | retry


class PermanentDeliveryError(Exception):
    """Delivery cannot succeed (e.g. the client blocked the bot); the row is marked failed."""


def deliver(engine: Engine, outbox_id: int, senders: dict[str, Sender],
            on_failure: Callable[[Outbox, str], None] | None = None) -> DeliveryResult:
    with session_scope(engine) as session:
        claimed = session.execute(
            update(Outbox).where(Outbox.id == outbox_id, Outbox.status == "pending")  # type: ignore[arg-type]
            .values(status="sending", attempts=Outbox.attempts + 1)).rowcount  # type: ignore[attr-defined]
    if not claimed:
        return DeliveryResult(outbox_id, "skipped")
    with session_scope(engine) as session:
        row = session.get(Outbox, outbox_id)
        assert row is not None
        conversation = session.get(Conversation, row.conversation_id) if row.conversation_id else None
        message = session.get(Message, row.message_id) if row.message_id else None
        sender = senders.get(f"{row.kind}:{row.channel}") or senders.get(row.kind)
        log = logger.bind(lead_id=row.lead_id, channel=row.channel, outbox_id=outbox_id)
        try:
            if sender is None:
                raise PermanentDeliveryError(f"no sender for {row.kind}:{row.channel}")
            result = sender(session, row, conversation, message)
        except PermanentDeliveryError as exc:
            row.status, row.last_error = "failed", str(exc)[:1000]
            session.add(row)
            log.warning("delivery failed for good: {}", exc)
            if on_failure is not None:
                on_failure(row, str(exc))
            return DeliveryResult(outbox_id, "failed")
        except UpstreamError as exc:
            row.status = "pending" if exc.retryable else "failed"
            row.last_error = str(exc)[:1000]
            session.add(row)
            if not exc.retryable:
                log.warning("delivery refused by {}: {}", exc.service, exc)
                if on_failure is not None:
                    on_failure(row, str(exc))
                return DeliveryResult(outbox_id, "failed")
            session.commit()
            raise
        except Exception as exc:
            row.status, row.last_error = "pending", f"{type(exc).__name__}: {exc}"[:1000]
            session.add(row)
            session.commit()
            raise
        row.status, row.sent_at = "sent", utcnow()
        if result:
            row.payload = {**row.payload, "result": result}
        session.add(row)
    return DeliveryResult(outbox_id, "sent")
