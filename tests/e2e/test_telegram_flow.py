"""The Telegram channel end to end: updates through the webhook (secret checked, parsed by aiogram, persisted before
the 200), a real worker answering through the real aiogram Bot pointed at the local Bot API fake.

Replies come with inline keyboards, button presses are answered (answerCallbackQuery), «печатает…» is shown, the
КП arrives as a PDF document, a client who blocked the bot marks the lead and sending stops.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Event, Lead, Outbox
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import MANAGERS_CHAT, TG_PATH, TG_SECRET, tg_callback, tg_message

pytestmark = pytest.mark.channel_fakes


class TgUser:
    """A Telegram client talking to the bot through our webhook; reads the bot's answers from the fake."""

    def __init__(self, client: Any, tg: TelegramFake, chat_id: int) -> None:
        self.client, self.tg, self.chat_id = client, tg, chat_id

    def sent(self) -> list[dict[str, Any]]:
        return list(self.tg.messages.get(self.chat_id, []))

    async def post(self, update: dict[str, Any]) -> None:
        response = await self.client.post(TG_PATH, json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
        assert response.status == 200, await response.text()

    async def _answers(self, before: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.sent()) > before:
                await asyncio.sleep(0.6)  # the replies of one turn arrive together: collect stragglers
                return self.sent()[before:]
            await asyncio.sleep(0.1)
        raise AssertionError("the bot did not answer")

    async def say(self, text: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        before = len(self.sent())
        await self.post(tg_message(self.chat_id, text))
        return await self._answers(before, timeout)

    async def press(self, data: str, label: str = "Кнопка", timeout: float = 60.0) -> tuple[str, list[dict[str, Any]]]:
        before = len(self.sent())
        update = tg_callback(self.chat_id, data, label=label)
        await self.post(update)
        return update["callback_query"]["id"], await self._answers(before, timeout)


def joined(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def buttons(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for m in messages for row in (m.get("reply_markup") or {}).get("inline_keyboard", []) for b in row]


async def test_message_reply_keyboard_typing_and_answered_callback(  # type: ignore[no-untyped-def]
        client, worker, tg_fake: TelegramFake, engine) -> None:
    user = TgUser(client, tg_fake, 70001)
    answers = await user.say("/start")
    assert "Здравствуйте" in joined(answers)
    keyboard = buttons(answers)
    assert keyboard and all(len(b["callback_data"].encode()) <= 64 for b in keyboard)
    assert (70001, "typing") in tg_fake.chat_actions
    product = next(b for b in keyboard if b["callback_data"] == "product:ai_lawyer")
    query_id, answers = await user.press(product["callback_data"], product["text"])
    assert any(a["callback_query_id"] == query_id for a in tg_fake.callback_answers)  # the spinner stops
    assert "юрист" in joined(answers).lower()
    with Session(engine) as session:
        lead = session.exec(select(Lead)).one()
        assert lead.product == "ai_lawyer" and lead.source_tag == "telegram-lead"


async def test_proposal_pdf_arrives_as_a_document(client, worker, tg_fake: TelegramFake) -> None:  # type: ignore[no-untyped-def]
    user = TgUser(client, tg_fake, 70002)
    await user.say("Здравствуйте")
    text = joined(await user.say("Нужен ИИ-юрист на 40 юристов, on-prem, нужно за неделю"))
    answers: list[dict[str, Any]] = []
    script = iter(["Юридическая фирма", "Проверка договоров", "Интеграций нет", "Стандарт", "Иван, ivan@example.ru",
                   "дальше", "дальше", "дальше"])
    for _ in range(8):
        if "Старт" in text and "Enterprise" in text:
            break
        answers = await user.say(next(script))
        text = joined(answers)
    assert "Старт" in text and "Оптимум" in text and "Enterprise" in text, text
    proposal = next(b for b in buttons(answers) if b["callback_data"].startswith("doc:"))
    deadline = time.monotonic() + 90
    while not tg_fake.documents and time.monotonic() < deadline:
        await user.press(proposal["callback_data"], proposal["text"])
        await asyncio.sleep(1.0)
    assert tg_fake.documents, "no document was sent"
    document = tg_fake.documents[0]
    assert document["chat_id"] == 70002
    assert document["filename"].endswith(".pdf") and document["data"].startswith(b"%PDF")


async def test_blocked_bot_marks_the_lead_and_stops_sending(  # type: ignore[no-untyped-def]
        client, worker, tg_fake: TelegramFake, engine) -> None:
    user = TgUser(client, tg_fake, 70003)
    await user.say("/start")
    tg_fake.block_chat(70003)
    await user.post(tg_message(70003, "Сколько стоит ИИ-аналитик?"))
    deadline = time.monotonic() + 30
    blocked = False
    while time.monotonic() < deadline and not blocked:
        with Session(engine) as session:
            blocked = session.exec(select(Lead)).one().blocked
        await asyncio.sleep(0.2)
    assert blocked
    with Session(engine) as session:
        assert session.exec(select(Event).where(Event.kind == "blocked")).first() is not None
        assert any(r.status == "failed" for r in session.exec(select(Outbox).where(Outbox.kind == "message")))
    refused = len([c for c in tg_fake.calls_of("sendMessage") if c.params.get("chat_id") == 70003 and c.status == 403])
    assert refused == 1  # one refused send, no retry storm
    # the managers learn about it
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not any("заблокировал" in t for t in tg_fake.texts(MANAGERS_CHAT)):
        await asyncio.sleep(0.2)
    assert any("заблокировал" in t for t in tg_fake.texts(MANAGERS_CHAT))


async def test_429_retry_after_is_waited_out_and_the_reply_sent_once(  # type: ignore[no-untyped-def]
        client, worker, tg_fake: TelegramFake) -> None:
    tg_fake.fail_next("sendMessage", 429, retry_after=1, chat_id=70004)
    user = TgUser(client, tg_fake, 70004)
    started = time.monotonic()
    answers = await user.say("Здравствуйте")
    assert "Здравствуйте" in joined(answers)
    assert time.monotonic() - started >= 1.0  # Telegram asked to wait a second
    calls = [c for c in tg_fake.calls_of("sendMessage") if c.params.get("chat_id") == 70004]
    assert [c.status for c in calls][:2] == [429, 200]
    texts = tg_fake.texts(70004)
    assert len(texts) == len(set(texts))  # nothing sent twice
