"""Senders of outbox rows for Avito, Telegram and the managers (kind "notify").

Each sender is called by ``pipelines.delivery.deliver`` with the row claimed. What a row has already delivered
(parts of a long text, a document) is written into the row's payload as it goes, so a retry after a partial
failure sends only the rest. A row that cannot be delivered for good (blocked bot, a chat that is gone, retries used
up) raises ``PermanentDeliveryError`` and a manager gets a "delivery_failed" notice.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from loguru import logger
from sqlalchemy.dialects.postgresql import insert
from sqlmodel import Session

from db.models import Conversation, Document, Lead, Message, Outbox
from db.models_channels import ManagerChatMessage
from integrations.avito import TEXT_LIMIT as AVITO_TEXT_LIMIT
from integrations.smtp import Mailer
from integrations.telegram import CALLBACK_DATA_LIMIT, ChatBlocked
from integrations.text_split import split_text
from pipelines.channels.clients import ChannelClients
from pipelines.channels.notices import EMAIL_EVENTS, Notice, build_notice
from pipelines.delivery import PermanentDeliveryError
from pipelines.document.storage import absolute_path
from pipelines.leads import record_event
from pipelines.reply import add_outbox
from voronka.errors import NotConfigured, UpstreamError

SHORT_BUTTON = 20  # characters: two such buttons share a row


def keyboard(buttons: list[dict[str, Any]]) -> list[list[tuple[str, str]]]:
    """The dialog's buttons as inline keyboard rows: short ones two per row; invalid callback data is dropped."""
    valid: list[tuple[str, str]] = []
    for button in buttons or []:
        text, data = str(button.get("text") or "").strip(), str(button.get("callback") or button.get("url") or "")
        if not text or not data:
            continue
        if not data.startswith(("https://", "http://")) and len(data.encode()) > CALLBACK_DATA_LIMIT:
            logger.warning("button dropped: callback data longer than 64 bytes")
            continue
        valid.append((text, data))
    rows: list[list[tuple[str, str]]] = []
    for text, data in valid:
        if rows and len(rows[-1]) == 1 and len(rows[-1][0][0]) <= SHORT_BUTTON and len(text) <= SHORT_BUTTON:
            rows[-1].append((text, data))
        else:
            rows.append([(text, data)])
    return rows


def avito_text(message: Message) -> str:
    """Plain text for Avito: attachments (Avito cannot send files) become their signed links."""
    text = (message.text or "").strip()
    for attachment in (message.payload or {}).get("attachments") or []:
        url = attachment.get("url")
        if url and url not in text:
            text += f"\n{attachment.get('name') or 'Документ'}: {url}"
    return text.strip()


def _progress(outbox: Outbox, **changes: Any) -> None:
    outbox.payload = {**(outbox.payload or {}), **changes}


Schedule = Callable[[int], None]  # deliver this (not yet committed) outbox row a moment later


def _no_schedule(outbox_id: int) -> None:
    """Without a scheduler the sweeper picks the row up."""


def _alert(session: Session, outbox: Outbox, message: Message | None, error: str,
           schedule: Schedule = _no_schedule) -> None:
    created = add_outbox(session, key=f"notify:undelivered:{outbox.id}", kind="notify", lead_id=outbox.lead_id,
                         conversation_id=outbox.conversation_id, channel=outbox.channel,
                         payload={"event": "delivery_failed", "error": error[:500],
                                  "text": (message.text if message is not None else "")[:1000]})
    if created is not None:
        schedule(created)


def _give_up(session: Session, outbox: Outbox, message: Message | None, exc: UpstreamError,
             max_attempts: int, schedule: Schedule) -> None:
    """Turn a failure into a permanent one (with a manager alert) when retrying is pointless or used up."""
    if exc.retryable and outbox.attempts < max_attempts:
        return
    _alert(session, outbox, message, exc.message, schedule)
    raise PermanentDeliveryError(exc.message) from exc


def send_avito(clients: ChannelClients, session: Session, outbox: Outbox, conversation: Conversation | None,
               message: Message | None, *, max_attempts: int,
               schedule: Schedule = _no_schedule) -> dict[str, Any] | None:
    if conversation is None or message is None:
        raise PermanentDeliveryError("avito message without a conversation or message")
    if not clients.settings.avito_configured:
        _alert(session, outbox, message, "Avito не настроен", schedule)
        raise PermanentDeliveryError("Avito is not configured")
    parts = split_text(avito_text(message), AVITO_TEXT_LIMIT)
    done = int((outbox.payload or {}).get("parts_sent") or 0)
    chat_id = conversation.external_chat_id
    ids: list[str] = list((outbox.payload or {}).get("avito_ids") or [])

    async def send(part: str) -> list[dict[str, Any]]:
        return await (await clients.avito()).send_text(chat_id, part)

    async def mark_read() -> None:
        await (await clients.avito()).mark_read(chat_id)

    for index in range(done, len(parts)):
        try:
            answers = clients.run(send(parts[index]))
        except UpstreamError as exc:
            _give_up(session, outbox, message, exc, max_attempts, schedule)
            raise
        ids.extend(str(a.get("id")) for a in answers if a.get("id"))
        _progress(outbox, parts_sent=index + 1, avito_ids=ids)
        session.add(outbox)
    try:
        clients.run(mark_read())
    except UpstreamError as exc:  # the text is out; an unread mark is not worth a duplicate
        logger.bind(chat_id=conversation.id).warning("avito chat not marked read: {}", exc)
    return {"avito_message_ids": ids, "parts": len(parts)}


def _document_bytes(session: Session, documents_dir: Any, attachment: dict[str, Any]) -> tuple[str, bytes] | None:
    document_id = attachment.get("document_id")
    document = session.get(Document, int(document_id)) if document_id else None
    if document is None:
        return None
    path = absolute_path(documents_dir, document)
    return str(attachment.get("name") or path.name), path.read_bytes()


def _blocked(session: Session, outbox: Outbox, lead: Lead | None, description: str, schedule: Schedule) -> None:
    if lead is not None and not lead.blocked:
        lead.blocked = True
        session.add(lead)
        record_event(session, lead_id=lead.id, kind="blocked", channel="telegram", data={"error": description})
        created = add_outbox(session, key=f"notify:blocked:{lead.id}:{outbox.id}", kind="notify", lead_id=lead.id,
                             conversation_id=outbox.conversation_id, channel="telegram", payload={"event": "blocked"})
        if created is not None:
            schedule(created)


def send_telegram(clients: ChannelClients, session: Session, outbox: Outbox, conversation: Conversation | None,
                  message: Message | None, *, max_attempts: int,
                  schedule: Schedule = _no_schedule) -> dict[str, Any] | None:
    if conversation is None or message is None:
        raise PermanentDeliveryError("telegram message without a conversation or message")
    lead = session.get(Lead, outbox.lead_id) if outbox.lead_id else None
    if lead is not None and lead.blocked:
        raise PermanentDeliveryError("the client blocked the bot")
    chat_id = conversation.external_chat_id
    payload = message.payload or {}
    progress = outbox.payload or {}
    sent_ids: list[int] = list(progress.get("telegram_ids") or [])
    rows = keyboard(payload.get("buttons") or [])
    documents_dir = clients.settings.documents_dir

    async def send_text() -> list[int]:
        return await (await clients.telegram()).send_text(chat_id, message.text, rows or None)

    async def send_document(name: str, data: bytes) -> int:
        return await (await clients.telegram()).send_document(chat_id, name, data)

    try:
        if not progress.get("text_sent") and (message.text or "").strip():
            sent_ids.extend(clients.run(send_text()))
            _progress(outbox, text_sent=True, telegram_ids=sent_ids)
            session.add(outbox)
        done_docs = set(progress.get("documents_sent") or [])
        for attachment in payload.get("attachments") or []:
            key = str(attachment.get("document_id") or attachment.get("url"))
            if key in done_docs:
                continue
            found = _document_bytes(session, documents_dir, attachment)
            if found is None:  # not a stored document: its link goes as text
                if attachment.get("url"):
                    sent_ids.extend(clients.run(_link(clients, chat_id, attachment)))
            else:
                sent_ids.append(clients.run(send_document(*found)))
            done_docs.add(key)
            _progress(outbox, documents_sent=sorted(done_docs), telegram_ids=sent_ids)
            session.add(outbox)
    except ChatBlocked as exc:
        _blocked(session, outbox, lead, exc.description, schedule)
        raise PermanentDeliveryError("the client blocked the bot") from exc
    except UpstreamError as exc:
        _give_up(session, outbox, message, exc, max_attempts, schedule)
        raise
    return {"telegram_message_ids": sent_ids}


async def _link(clients: ChannelClients, chat_id: str, attachment: dict[str, Any]) -> list[int]:
    sender = await clients.telegram()
    return await sender.send_text(chat_id, f"{attachment.get('name') or 'Документ'}: {attachment['url']}")


def _record_posted(session: Session, chat_id: str, message_ids: list[int], outbox: Outbox, event: str) -> None:
    for message_id in message_ids:
        session.execute(insert(ManagerChatMessage.__table__).values(  # type: ignore[attr-defined]
            chat_id=chat_id, telegram_message_id=message_id, lead_id=outbox.lead_id,
            conversation_id=outbox.conversation_id, event=event, created_at=outbox.created_at)
            .on_conflict_do_nothing(constraint="uq_manager_chat_message"))


_EMAIL_SAFE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def send_notify(clients: ChannelClients, session: Session, outbox: Outbox, conversation: Conversation | None,
                message: Message | None) -> dict[str, Any] | None:
    """Post a notice to the managers' Telegram chat and e-mail the managers (whatever of the two is configured)."""
    settings = clients.settings
    mailer = Mailer(settings)
    notice: Notice = build_notice(session, outbox, conversation, settings.public_url)
    event = str((outbox.payload or {}).get("event") or "notice")
    wants_mail = bool(notice.email_event in EMAIL_EVENTS and mailer.configured and settings.MANAGER_EMAILS)
    if not settings.manager_chat_configured and not wants_mail:
        logger.bind(lead_id=outbox.lead_id).warning(
            "manager notice '{}' not sent: neither MANAGER_TELEGRAM_CHAT_ID nor SMTP is configured", event)
        return {"skipped": "not configured"}
    progress = outbox.payload or {}
    result: dict[str, Any] = {}
    if settings.manager_chat_configured and not progress.get("telegram_ids"):
        chat_id = settings.MANAGER_TELEGRAM_CHAT_ID

        async def post() -> list[int]:
            return await (await clients.telegram()).send_text(chat_id, notice.text, notice.buttons or None)

        try:
            ids = clients.run(post())
        except ChatBlocked as exc:
            raise PermanentDeliveryError("the bot cannot write to the managers' chat") from exc
        _record_posted(session, chat_id, ids, outbox, event)
        _progress(outbox, telegram_ids=ids)
        session.add(outbox)
        result["telegram_ids"] = ids
    if wants_mail and not progress.get("email_id") and notice.email_event:
        context = {k: _EMAIL_SAFE.sub(" ", v) if isinstance(v, str) else v for k, v in notice.email_context.items()}
        try:
            email_id = clients.run(mailer.notify_managers(notice.email_event, (), **context))
        except NotConfigured:
            email_id = None
        except UpstreamError as exc:
            if exc.retryable and not result.get("telegram_ids") and not progress.get("telegram_ids"):
                raise
            logger.warning("manager e-mail for '{}' not sent: {}", event, exc)
            email_id = None
        if email_id:
            _progress(outbox, email_id=email_id)
            result["email_id"] = email_id
    return result
