"""Middleware recording a job that failed for good (retries exhausted or a non-retryable error) with its lead id,
and making the dead-lettered copy in Redis carry the last attempt's retries count and traceback."""

from __future__ import annotations

import traceback
from typing import Any

import dramatiq
from loguru import logger
from sqlalchemy import Engine

from db.engine import make_engine, session_scope
from db.models import FailedJob, Message, Outbox

# actor name → the table whose row id is the actor's first argument (to link a dead letter to its lead)
LEAD_BY_ARG: dict[str, type] = {"inbound.handle": Message, "channels.inbound": Message, "outbox.deliver": Outbox,
                                "integrate.action": Outbox,
                                "document.render": Outbox}


_REPLACE_IF_PRESENT = """
if redis.call("hexists", KEYS[1], ARGV[1]) == 1 then redis.call("hset", KEYS[1], ARGV[1], ARGV[2]) return 1 end
return 0
"""


class DeadLetters(dramatiq.Middleware):
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self._engine: Engine | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.database_url, pool_size=2)
        return self._engine

    def after_process_message(self, broker: dramatiq.Broker, message: Any, *,  # a MessageProxy
                              result: Any = None, exception: BaseException | None = None) -> None:
        if exception is None:
            return
        actor = broker.get_actor(message.actor_name)
        throws = actor.options.get("throws") or ()
        retries = message.options.get("retries", 0)
        max_retries = message.options.get("max_retries", actor.options.get("max_retries", 3))
        gave_up = isinstance(exception, throws) or retries >= max_retries
        if not gave_up:
            return
        # the last attempt's traceback (Retries, whose after-hook runs next, writes the same one unless `throws`)
        message.options["traceback"] = "".join(traceback.format_exception(exception, limit=30))
        self.record(message, exception)

    def before_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        """The Redis broker dead-letters the message as it was *enqueued*: store the processed one (retries,
        traceback) in its place first, so the admin's queue page shows why it died. Only while it is still there."""
        from dramatiq.brokers.redis import RedisBroker

        if not isinstance(broker, RedisBroker) or "redis_message_id" not in message.options:
            return
        try:
            broker.client.eval(_REPLACE_IF_PRESENT, 1, f"{broker.namespace}:{message.queue_name}.msgs",
                               message.options["redis_message_id"], message.encode())
        except Exception:  # the nack itself must still happen
            logger.warning("could not store the failed message {} before dead-lettering it", message.message_id)

    def _lead_of(self, session: Any, message: dramatiq.Message[Any]) -> int | None:
        """The lead a failed job was about: from its options, else from the row its first argument names."""
        if message.options.get("lead_id") is not None:
            return int(message.options["lead_id"])
        if not message.args or not isinstance(message.args[0], int):
            return None
        table = LEAD_BY_ARG.get(message.actor_name)
        if table is None:
            return None
        row = session.get(table, message.args[0])
        return getattr(row, "lead_id", None) if row is not None else None

    def record(self, message: dramatiq.Message[Any], exception: BaseException) -> None:
        lead_id = None
        try:
            with session_scope(self.engine) as session:
                lead_id = self._lead_of(session, message)
                session.add(FailedJob(actor=message.actor_name, queue=message.queue_name,
                                      message_id=message.message_id, args=list(message.args),
                                      lead_id=lead_id, error=f"{type(exception).__name__}: {exception}"[:2000]))
        except Exception:
            logger.exception("could not record failed job {}", message.message_id)
            raise
        from voronka.metrics import job_failed

        job_failed(message.actor_name, message.queue_name)
        logger.bind(lead_id=lead_id).error("job {} failed for good: {}", message.actor_name, type(exception).__name__)
        on_give_up = message.options.get("on_give_up")
        if on_give_up:
            broker = dramatiq.get_broker()
            broker.enqueue(dramatiq.Message(queue_name="integrate", actor_name=on_give_up,
                                            args=(message.message_id,), kwargs={}, options={}))
