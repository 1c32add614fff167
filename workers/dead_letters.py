"""What happens to a job that failed for good (the failure policy's ``on_retry_exhausted``): a dead-letter row with
its lead and a manager alert (``pipelines.failed_jobs``), and the dead-lettered copy in Redis carries the last
attempt's retries count and traceback, so the admin's queue page shows why it died."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from loguru import logger
from sqlalchemy import Engine

from db.engine import make_engine
from db.models import Message, Outbox
from pipelines.failed_jobs import record_failed_job
from voronka.metrics import job_failed
from workers.enqueue import enqueue

# actor name → the table whose row id is the actor's first argument (to link a dead letter to its lead)
LEAD_BY_ARG: dict[str, type[Message] | type[Outbox]] = {
    "channels.inbound": Message, "outbox.deliver": Outbox, "integrate.action": Outbox, "document.render": Outbox}

ALERT_ACTOR = "outbox.deliver"

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

    def record(self, broker: dramatiq.Broker, message: dramatiq.MessageProxy, exception: BaseException) -> None:
        """The failure policy's ``on_retry_exhausted``: store the dead letter, alert the managers."""
        lead_id = message.options.get("lead_id")
        try:
            recorded = record_failed_job(
                self.engine, actor=message.actor_name, queue=message.queue_name, message_id=message.message_id,
                args=list(message.args), error=f"{type(exception).__name__}: {exception}",
                lead_id=int(lead_id) if lead_id is not None else None,
                first_arg_row=LEAD_BY_ARG.get(message.actor_name))
        except Exception:
            logger.exception("could not record failed job {}", message.message_id)
            raise
        job_failed(message.actor_name, message.queue_name)
        logger.bind(lead_id=recorded.lead_id).error("job {} failed for good: {}", message.actor_name,
                                                    type(exception).__name__)
        if recorded.alert_id is not None:
            enqueue(broker, ALERT_ACTOR, recorded.alert_id)

    def before_nack(self, broker: dramatiq.Broker, message: Any) -> None:
        """The Redis broker dead-letters the message as it was *enqueued*: store the processed one (retries,
        traceback) in its place first. Only while it is still there."""
        if not isinstance(broker, RedisBroker) or "redis_message_id" not in message.options:
            return
        try:
            broker.client.eval(_REPLACE_IF_PRESENT, 1, f"{broker.namespace}:{message.queue_name}.msgs",
                               message.options["redis_message_id"], message.encode())
        except Exception:  # the nack itself must still happen
            logger.warning("could not store the failed message {} before dead-lettering it", message.message_id)
