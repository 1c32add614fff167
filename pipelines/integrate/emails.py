"""E-mail as an action: letters are queued as outbox rows (action "email") and sent once by ``integrate.action``.

Queued with ``conversation_id=None``, so a letter that fails for good never produces a chat message to the
client; the managers get the usual job-failed notification instead. Without SMTP settings the letter is dropped
and the managers are told once a day that mail is not configured.

Data of an "email" action: ``{"event", "audience": "manager"|"client", "to": [..] (client letters),
"ctx": {...}, "documents": [document ids to attach]}``; datetimes in ``ctx`` travel as ISO strings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from loguru import logger
from sqlmodel import Session

from db.models import Conversation, Document, Lead
from integrations.smtp import Attachment, Mailer
from pipelines.document.storage import absolute_path
from pipelines.integrate.dealkit import contact_context, notify_not_configured, queue_action
from pipelines.reply import OutgoingReply
from pipelines.runtime import Runtime
from voronka.errors import NotConfigured, PayloadTooLarge, ValidationError

DATETIME_KEYS = ("start",)


def queue_email(session: Session, lead: Lead, *, key: str, event: str, audience: str, ctx: dict[str, Any],
                documents: list[int] | None = None) -> int | None:
    """Queue one letter. Client letters go to the lead's e-mail (skipped when it is unknown)."""
    to: list[str] = []
    if audience == "client":
        email = contact_context(session, lead).get("email")
        if not email:
            return None
        to = [str(email)]
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in ctx.items() if v is not None}
    return queue_action(session, lead, key=key, action="email",
                        data={"event": event, "audience": audience, "to": to, "ctx": plain,
                              "documents": list(documents or [])})


def queue_both(session: Session, lead: Lead, *, key: str, event: str, ctx: dict[str, Any],
               documents: list[int] | None = None) -> None:
    """The manager's and (when the e-mail is known) the client's letter for one event."""
    queue_email(session, lead, key=f"{key}:manager", event=event, audience="manager", ctx=ctx, documents=documents)
    queue_email(session, lead, key=f"{key}:client", event=event, audience="client", ctx=ctx, documents=documents)


def _attachments(session: Session, documents_dir: Any, ids: list[int]) -> list[Attachment]:
    found: list[Attachment] = []
    for document_id in ids:
        document = session.get(Document, int(document_id))
        if document is None:
            continue
        path = absolute_path(documents_dir, document)
        if path.exists():
            found.append((f"{document.number}.pdf", path.read_bytes(), "application/pdf"))
    return found


def handle_email(deps: Runtime, session: Session, lead: Lead, conversation: Conversation | None,
                 data: dict[str, Any]) -> list[OutgoingReply]:
    event, audience = str(data["event"]), str(data.get("audience") or "manager")
    ctx: dict[str, Any] = dict(data.get("ctx") or {})
    for key in DATETIME_KEYS:
        if isinstance(ctx.get(key), str):
            ctx[key] = datetime.fromisoformat(ctx[key])
    mailer = Mailer(deps.settings)
    attachments = _attachments(session, deps.settings.documents_dir, list(data.get("documents") or []))
    log = logger.bind(lead_id=lead.id, event=event, audience=audience)
    try:
        if audience == "manager":
            deps.bridge.run(mailer.notify_managers(event, attachments, **ctx))
        else:
            deps.bridge.run(mailer.send_event(event, "client", list(data.get("to") or []), attachments, **ctx))
    except NotConfigured as exc:
        notify_not_configured(session, lead, service="smtp", message=exc.message)
        return []
    except PayloadTooLarge:
        log.warning("attachment too large: sending the letter without it")
        if audience == "manager":
            deps.bridge.run(mailer.notify_managers(event, (), **ctx))
        else:
            deps.bridge.run(mailer.send_event(event, "client", list(data.get("to") or []), (), **ctx))
    except ValidationError as exc:  # a bad address or a letter without its required data: nothing to retry
        log.warning("letter not sent: {}", exc.message)
        return []
    log.info("letter sent")
    return []
