"""Channel senders for outbox rows: the site (a notification to long-polling visitors), Telegram, Avito, managers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import dramatiq
from sqlmodel import Session

from db.models import Conversation, Message, Outbox
from pipelines.channels import delivery
from pipelines.channels.clients import ChannelClients
from pipelines.delivery import Sender
from pipelines.notify import site_channel
from pipelines.runtime import Runtime
from voronka.errors import UpstreamError
from workers.enqueue import QUEUES


class HasChannelClients(Protocol):
    """The worker's context (``workers.context.WorkerContext``) as actors pass it here."""

    @property
    def channel_clients(self) -> ChannelClients: ...


def channel_clients(rt: HasChannelClients) -> ChannelClients:
    """The worker process's channel clients (on the process's async bridge)."""
    return rt.channel_clients


def _queue_aware(send: Callable[..., dict[str, Any] | None]) -> Sender:
    """A long Retry-After (429) goes back to the queue as a delayed retry instead of holding a worker thread."""

    def sender(session: Session, outbox: Outbox, conversation: Conversation | None,
               message: Message | None) -> dict[str, Any] | None:
        try:
            return send(session, outbox, conversation, message)
        except UpstreamError as exc:
            if exc.retryable and exc.retry_after:
                raise dramatiq.Retry(exc.message, delay=int(exc.retry_after * 1000) + 100) from exc
            raise

    return sender


ALERT_DELAY_MS = 1_000  # the row is committed with the failed delivery, a moment after the sender returns


def schedule_delivery(outbox_id: int) -> None:
    """Deliver an outbox row written by a sender (a manager alert) once its transaction has committed."""
    message: dramatiq.Message[Any] = dramatiq.Message(queue_name=QUEUES["outbox.deliver"], actor_name="outbox.deliver",
                                                      args=(outbox_id,), kwargs={}, options={})
    dramatiq.get_broker().enqueue(message, delay=ALERT_DELAY_MS)


def build_senders(deps: Runtime, clients: ChannelClients) -> dict[str, Sender]:
    max_attempts = deps.settings.MAX_RETRIES + 1

    def site_message(session: Session, outbox: Outbox, conversation: Conversation | None,
                     message: Message | None) -> dict[str, Any] | None:
        # The visitor reads messages through the site API; delivery is a wake-up for waiting long-polls.
        if conversation is not None and deps.redis is not None:
            deps.redis.publish(site_channel(conversation.external_chat_id), str(outbox.message_id or 0))
        return None

    def telegram_message(session: Session, outbox: Outbox, conversation: Conversation | None,
                         message: Message | None) -> dict[str, Any] | None:
        return delivery.send_telegram(clients, session, outbox, conversation, message,
                                      max_attempts=max_attempts, schedule=schedule_delivery)

    def avito_message(session: Session, outbox: Outbox, conversation: Conversation | None,
                      message: Message | None) -> dict[str, Any] | None:
        return delivery.send_avito(clients, session, outbox, conversation, message,
                                   max_attempts=max_attempts, schedule=schedule_delivery)

    def notify(session: Session, outbox: Outbox, conversation: Conversation | None,
               message: Message | None) -> dict[str, Any] | None:
        return delivery.send_notify(clients, session, outbox, conversation, message)

    return {
        "message:site": site_message,
        "message:telegram": _queue_aware(telegram_message),
        "message:avito": _queue_aware(avito_message),
        "notify": _queue_aware(notify),
    }
