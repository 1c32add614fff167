"""Actions the dialog asked for (document, booking, payment, CRM sync), each performed once from its outbox row.

``run_action(deps, outbox_id)`` locks the row, runs the handler registered for its action and writes the handler's
replies as new outgoing messages. Handlers are idempotent (documents by brief hash, payments by idempotence key,
CRM by our lead ↔ amo mapping), so a retried job repeats nothing. After the last retry the client gets a polite
message and the managers a notification, instead of silence.
"""

from __future__ import annotations

from loguru import logger
from sqlmodel import select

from db.engine import session_scope
from db.models import Conversation, Lead, Outbox, utcnow
from pipelines.integrate import deals, documents
from pipelines.integrate.dealkit import ActionHandler
from pipelines.reply import OutgoingReply, add_outbox, write_replies
from pipelines.runtime import Runtime

FAILED_FOR_GOOD = OutgoingReply(text="Извините, не получилось выполнить ваш запрос автоматически. Я уже передал его "
                                     "менеджеру — он свяжется с вами в ближайшее рабочее время.")


def handlers() -> dict[str, ActionHandler]:
    registry: dict[str, ActionHandler] = {"document": documents.handle_document}
    registry.update(deals.handlers())
    return registry


def run_action(deps: Runtime, outbox_id: int) -> list[tuple[int, str]]:
    with session_scope(deps.engine) as session:
        row = session.exec(select(Outbox).where(Outbox.id == outbox_id).with_for_update()).first()
        if row is None or row.status != "pending":
            return []
        row.attempts += 1
        lead = session.get(Lead, row.lead_id) if row.lead_id else None
        conversation = session.get(Conversation, row.conversation_id) if row.conversation_id else None
        action = str(row.payload.get("action"))
        data = dict(row.payload.get("data") or {})
        log = logger.bind(lead_id=row.lead_id, channel=row.channel, action=action)
        handler = handlers().get(action)
        if lead is None or handler is None:
            row.status, row.last_error = "failed", f"no handler for {action!r} or no lead"
            session.add(row)
            log.error("action cannot run: {}", row.last_error)
            return []
        try:
            with session.begin_nested():
                replies = handler(deps, session, lead, conversation, data)
        except Exception as exc:
            row.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            if row.attempts <= deps.settings.MAX_RETRIES:
                session.add(row)
                session.commit()
                raise
            log.exception("action {} failed for good", action)
            row.status = "failed"
            session.add(row)
            replies = [FAILED_FOR_GOOD]
            add_outbox(session, key=f"notify:action-failed:{outbox_id}", kind="notify", lead_id=lead.id,
                       conversation_id=row.conversation_id, channel=row.channel,
                       payload={"event": "job_failed", "action": action, "error": row.last_error})
        else:
            row.status, row.sent_at = "sent", utcnow()
            session.add(row)
        if conversation is not None and replies:
            write_replies(session, key_prefix=f"action-reply:{outbox_id}", lead_id=lead.id or 0,
                          conversation_id=conversation.id or 0, channel=conversation.channel, replies=replies)
        session.flush()
        pending = session.exec(select(Outbox.id, Outbox.kind).where(
            Outbox.status == "pending", Outbox.lead_id == lead.id, Outbox.id != outbox_id)).all()
        return [(int(i), str(k)) for i, k in pending if i is not None]
