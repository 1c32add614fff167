"""Channel senders for outbox rows: the site (a notification to long-polling visitors), Telegram, Avito, mail."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from db.models import Conversation, Message, Outbox
from pipelines.delivery import Sender
from pipelines.notify import site_channel

if TYPE_CHECKING:
    from workers.context import WorkerRuntime


def build_senders(rt: WorkerRuntime) -> dict[str, Sender]:
    def site_message(session: Session, outbox: Outbox, conversation: Conversation | None,
                     message: Message | None) -> dict[str, Any] | None:
        # The visitor reads messages through the site API; delivery is a wake-up for waiting long-polls.
        if conversation is not None:
            rt.deps.redis.publish(site_channel(conversation.external_chat_id), str(outbox.message_id or 0))
        return None

    return {"message:site": site_message}
