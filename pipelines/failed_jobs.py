"""A job that failed for good: its dead-letter row (the admin lists it, /metrics counts it) and an alert to the
managers — one per job, lead and hour, so a job failing on every scheduler tick does not flood the managers' chat."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from db.engine import session_scope
from db.models import FailedJob, Lead, Message, Outbox
from pipelines.reply import add_outbox

ERROR_LIMIT = 2000
ALERT_ERROR_LIMIT = 500


@dataclass(frozen=True)
class FailedJobRecord:
    lead_id: int | None
    alert_id: int | None  # the managers' notice (a "notify" outbox row) if one was written now, to deliver


def record_failed_job(engine: Engine, *, actor: str, queue: str, message_id: str, args: list[Any], error: str,
                      lead_id: int | None = None, first_arg_row: type[Message] | type[Outbox] | None = None,
                      now: datetime | None = None) -> FailedJobRecord:
    """Store the dead letter and alert the managers. The lead is ``lead_id`` when the job knew it, else the one of
    the ``first_arg_row`` row whose id is the job's first argument (an inbound message, an outbox row)."""
    with session_scope(engine) as session:
        if lead_id is None and first_arg_row is not None and args and isinstance(args[0], int):
            lead_id = _lead_of(session, first_arg_row, args[0])
        session.add(FailedJob(actor=actor, queue=queue, message_id=message_id, args=args, lead_id=lead_id,
                              error=error[:ERROR_LIMIT]))
        lead = session.get(Lead, lead_id) if lead_id is not None else None  # None too if it has been erased
        hour = (now or datetime.now(UTC)).strftime("%Y%m%d%H")
        payload: dict[str, Any] = {"event": "job_failed", "job": actor, "error": error[:ALERT_ERROR_LIMIT]}
        if lead is not None:
            payload["lead_id"] = lead.id
        alert_id = add_outbox(session, key=f"notify:job-failed:{actor}:{lead.id if lead else '-'}:{hour}",
                              kind="notify", lead_id=lead.id if lead else None, channel=lead.channel if lead else None,
                              payload=payload)
    return FailedJobRecord(lead_id=lead_id, alert_id=alert_id)


def _lead_of(session: Session, table: type[Message] | type[Outbox], row_id: int) -> int | None:
    lead_id = getattr(session.get(table, row_id), "lead_id", None)  # both tables have it (None: no such row)
    return int(lead_id) if lead_id is not None else None
