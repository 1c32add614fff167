"""The managers' Telegram chat with a real worker: a handoff notice with «Взять диалог» / «Вернуть боту», a
manager's reply reaching the client on the client's own channel (site, Avito), the bot silent while a manager
holds the conversation (the client's messages forwarded to the managers' chat), and the bot back after «Вернуть
боту». Telegram is the local Bot API fake; Avito the local Avito fake."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Lead
from tests.fakes.avito_fake import AvitoFake
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import (
    AVITO_PATH,
    AVITO_SECRET,
    MANAGERS_CHAT,
    TG_PATH,
    TG_SECRET,
    avito_event,
    bot_message,
    tg_callback,
    tg_message,
    worker_env,
)
from tests.support.processes import VoronkaProcess
from tests.support.site import Visitor

pytestmark = pytest.mark.channel_fakes


@pytest.fixture
def scheduler(services, tmp_path, avito_fake, tg_fake):  # type: ignore[no-untyped-def]
    """The real scheduler: it forwards site messages of held conversations to the managers' chat."""
    proc = VoronkaProcess("scheduler", database_url=services[0], redis_url=services[1], data_dir=tmp_path,
                          env=worker_env(avito_fake, tg_fake)).start(ready_text="scheduler started")
    yield proc
    proc.stop()


async def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def tg_post(client: Any, update: dict[str, Any]) -> None:
    response = await client.post(TG_PATH, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert response.status == 200, await response.text()


def managers_messages(tg: TelegramFake, containing: str) -> list[dict[str, Any]]:
    return [m for m in tg.messages.get(MANAGERS_CHAT, []) if containing in m.get("text", "")]


def lead_of(engine: Any) -> Lead:
    with Session(engine) as session:
        return session.exec(select(Lead).order_by(Lead.id)).first()  # type: ignore[arg-type, return-value]


async def site_messages(client: Any, session_id: str, after: int = 0) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/site/messages", params={"session_id": session_id, "after": str(after)})
    return list((await response.json())["messages"])


async def manager_texts(client: Any, session_id: str, *, until: int, timeout: float = 20.0) -> list[str]:
    """The site visitor's messages from the manager, once there are ``until`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        texts = [m["text"] for m in await site_messages(client, session_id) if m["role"] == "manager"]
        if len(texts) >= until:
            return texts
        await asyncio.sleep(0.2)
    raise AssertionError("the manager's message did not reach the visitor")


async def test_take_reply_and_give_back_for_a_site_visitor(  # type: ignore[no-untyped-def]
        client, worker, scheduler, tg_fake: TelegramFake, engine) -> None:
    visitor = Visitor(client, "mgr-site-1")
    await visitor.say("Здравствуйте")
    await visitor.say("Позовите, пожалуйста, живого менеджера")
    notice = (await wait_for(lambda: managers_messages(tg_fake, "Нужен менеджер"), what="a handoff notice"))[0]
    lead = lead_of(engine)
    assert lead.manager_hold
    keyboard = notice["reply_markup"]["inline_keyboard"][0]
    assert [b["callback_data"] for b in keyboard] == [f"mgr:take:{lead.id}", f"mgr:back:{lead.id}"]

    take = tg_callback(MANAGERS_CHAT, f"mgr:take:{lead.id}", label="Взять диалог", user_id=31337,
                       message_id=notice["message_id"])
    await tg_post(client, take)
    answer = await wait_for(lambda: [a for a in tg_fake.callback_answers
                                     if a["callback_query_id"] == take["callback_query"]["id"]],
                            what="the button press answered")
    assert "Диалог ваш" in (answer[0]["text"] or "")

    # the manager answers by replying to the notice: the visitor reads it on the site, from "manager"
    await tg_post(client, tg_message(MANAGERS_CHAT, "Здравствуйте! Я Анна, менеджер. Позвоню через 5 минут.",
                                     user_id=31337, name="Анна", reply_to=bot_message(MANAGERS_CHAT, notice)))
    manager_lines = await manager_texts(client, "mgr-site-1", until=1)
    assert manager_lines[0] == "Здравствуйте! Я Анна, менеджер. Позвоню через 5 минут."

    # while the manager holds it the bot is silent, and the visitor's words go to the managers' chat
    last_id = (await site_messages(client, "mgr-site-1"))[-1]["id"]
    response = await client.post("/api/v1/site/messages", json={"session_id": "mgr-site-1",
                                                                "text": "Спасибо, жду звонка"})
    assert response.status == 202
    forwarded = await wait_for(lambda: managers_messages(tg_fake, "Спасибо, жду звонка"), what="a forwarded message")
    await asyncio.sleep(1.0)
    assert not [m for m in await site_messages(client, "mgr-site-1", last_id) if m["role"] == "assistant"]
    # a reply to the forwarded message reaches the visitor too
    await tg_post(client, tg_message(MANAGERS_CHAT, "Уже набираю вас.", user_id=31337,
                                     reply_to=bot_message(MANAGERS_CHAT, forwarded[0])))
    assert (await manager_texts(client, "mgr-site-1", until=2))[1] == "Уже набираю вас."

    # «Вернуть боту»: the bot answers again
    back = tg_callback(MANAGERS_CHAT, f"mgr:back:{lead.id}", label="Вернуть боту", user_id=31337,
                       message_id=notice["message_id"])
    await tg_post(client, back)
    await wait_for(lambda: not lead_of(engine).manager_hold, what="the bot back")
    replies = await visitor.say("Сколько стоит ИИ-юрист?")
    assert replies and all(r["role"] == "assistant" for r in replies)


async def test_manager_reply_reaches_an_avito_client_split_into_parts(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake, tg_fake: TelegramFake, engine) -> None:
    avito_fake.add_chat("chat-mgr")
    response = await client.post(AVITO_PATH + AVITO_SECRET, json=avito_event("chat-mgr", "Соедините с менеджером"))
    assert response.status == 200
    notice = (await wait_for(lambda: managers_messages(tg_fake, "Нужен менеджер"), what="a handoff notice"))[0]
    assert "https://www.avito.ru/profile/messenger/channel/chat-mgr" in notice["text"]
    before = len(avito_fake.sent_texts("chat-mgr"))
    long_answer = " ".join(f"Пункт {i}: подробно расскажу, как мы внедряем ИИ-юриста в вашей фирме." for i in range(40))
    assert len(long_answer) > 2000
    await tg_post(client, tg_message(MANAGERS_CHAT, long_answer, reply_to=bot_message(MANAGERS_CHAT, notice)))
    parts = await wait_for(lambda: avito_fake.sent_texts("chat-mgr")[before:] if len(
        avito_fake.sent_texts("chat-mgr")) >= before + 3 else None, what="the manager's answer on Avito")
    assert all(len(p) <= 1000 for p in parts)
    assert " ".join(parts) == long_answer
