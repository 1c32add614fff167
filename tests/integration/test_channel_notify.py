"""The "notify" sender on its own: a handoff notice to the managers' Telegram chat (Bot API fake) with the buttons
and the Avito link, the e-mail to the managers (a real in-process SMTP server), and what happens when neither is
configured. Runs the sync sender in a thread, as a worker does."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import Session, select

from db.models import Brief, Client, Conversation, Lead, Outbox
from db.models_channels import ManagerChatMessage
from pipelines.channels.clients import ChannelClients
from pipelines.channels.delivery import send_notify
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import MANAGERS_CHAT


class Inbox:
    def __init__(self) -> None:
        self.letters: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.letters.append(parsed)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def handoff_row(db: Session) -> tuple[Outbox, Conversation]:
    client = Client(name="Мария", phone="+79160000000")
    db.add(client)
    db.flush()
    lead = Lead(client_id=client.id or 0, channel="avito", source_tag="avito-lead", product="ai_lawyer",
                manager_hold=True)
    db.add(lead)
    db.flush()
    conversation = Conversation(lead_id=lead.id or 0, channel="avito", external_chat_id="u2i-chat-77")
    db.add(conversation)
    db.add(Brief(lead_id=lead.id or 0, data={"product": "ai_lawyer", "name": "Мария"}))
    db.flush()
    row = Outbox(key=f"notify:handoff:test-{lead.id}", lead_id=lead.id, conversation_id=conversation.id,
                 channel="avito", kind="notify",
                 payload={"event": "handoff", "reason": "client_asked",
                          "summary": "Причина: клиент попросил менеджера.\nКанал: Авито."})
    db.add(row)
    db.commit()
    return row, conversation


async def run_sender(settings: Any, redis_url: str, engine: Any, row_id: int) -> dict[str, Any] | None:
    def work() -> dict[str, Any] | None:
        clients = ChannelClients(settings, redis_url=redis_url)
        with Session(engine) as session:
            row = session.get(Outbox, row_id)
            assert row is not None
            conversation = session.get(Conversation, row.conversation_id)
            result = send_notify(clients, session, row, conversation, None)
            session.commit()
            return result

    return await asyncio.to_thread(work)


async def test_notice_goes_to_the_managers_chat_and_by_mail(  # type: ignore[no-untyped-def]
        settings, db, redis_url, engine, tg_fake: TelegramFake, smtp) -> None:
    inbox, port = smtp
    settings = settings.model_copy(update={
        "TELEGRAM_API_URL": tg_fake.base_url, "TELEGRAM_BOT_TOKEN": tg_fake.token,
        "MANAGER_TELEGRAM_CHAT_ID": str(MANAGERS_CHAT), "SMTP_HOST": "127.0.0.1", "SMTP_PORT": port,
        "SMTP_STARTTLS": False, "MANAGER_EMAILS": ["sales@voronka.example"], "SMTP_FROM": "bot@voronka.example"})
    row, _conversation = handoff_row(db)
    result = await run_sender(settings, redis_url, engine, row.id or 0)
    assert result is not None and result["telegram_ids"] and result["email_id"]
    [posted] = tg_fake.messages[MANAGERS_CHAT]
    assert "Нужен менеджер" in posted["text"] and "клиент попросил менеджера" in posted["text"]
    assert "https://www.avito.ru/profile/messenger/channel/u2i-chat-77" in posted["text"]
    assert [b["callback_data"] for b in posted["reply_markup"]["inline_keyboard"][0]] == [
        f"mgr:take:{row.lead_id}", f"mgr:back:{row.lead_id}"]
    with Session(engine) as session:
        mapped = session.exec(select(ManagerChatMessage)).one()
        assert (mapped.telegram_message_id, mapped.lead_id) == (posted["message_id"], row.lead_id)
    [letter] = inbox.letters
    assert "Клиенту нужен менеджер: Мария" in str(letter["Subject"])
    assert "u2i-chat-77" in letter.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


async def test_nothing_configured_is_marked_skipped(settings, db, redis_url, engine) -> None:  # type: ignore[no-untyped-def]
    row, _conversation = handoff_row(db)
    result = await run_sender(settings, redis_url, engine, row.id or 0)
    assert result == {"skipped": "not configured"}
