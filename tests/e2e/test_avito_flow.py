"""The Avito channel end to end: our real AvitoClient (in a real worker process) against the local Avito fake.

Webhook in → persisted → worker: listing lookup (chat info → item → product), the dialog, the reply sent with the
Bearer token from the shared OAuth token, the chat marked read; managers told about the new lead in their Telegram
chat. Also: 429 then success, a token revoked mid-flow, a redelivered webhook answered once, a voice message, a
reply that cannot be delivered alerting a manager.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Event, Lead, Message, Outbox
from tests.fakes.avito_fake import AvitoFake
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import AVITO_PATH, AVITO_SECRET, MANAGERS_CHAT, avito_event

LAWYER_ITEM = {"id": 4242, "title": "ИИ-Юрист для юридических фирм: проверка договоров за минуты",
               "price_string": "от 150 000 ₽", "url": "https://www.avito.ru/moskva/predlozheniya_uslug/4242"}
pytestmark = pytest.mark.channel_fakes


async def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def webhook(client: Any, body: dict[str, Any]) -> None:
    response = await client.post(AVITO_PATH + AVITO_SECRET, json=body)
    assert response.status == 200, await response.text()


def sent_requests(avito: AvitoFake, chat_id: str) -> list[Any]:
    return [r for r in avito.calls_to(f"/chats/{chat_id}/messages") if r.method == "POST"]


async def test_listing_preselects_the_product_and_reply_goes_out_with_the_token(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake, tg_fake: TelegramFake, engine) -> None:
    avito_fake.add_chat("chat-law", item=LAWYER_ITEM)
    await webhook(client, avito_event("chat-law", "Здравствуйте, актуально?", item_id=4242))
    texts = await wait_for(lambda: avito_fake.sent_texts("chat-law"), what="a reply on Avito")
    reply = "\n".join(texts)
    assert "актуально" in reply.lower()
    assert "Расскажу про ИИ-Юриста" in reply  # the lawyer's listing starts the lawyer's brief
    assert reply.lower().index("актуально") < reply.index("Расскажу про")  # the turn's replies in order
    assert all(len(t) <= 1000 and "*" not in t for t in texts)
    # sent with a Bearer token the fake issued through /token
    sends = [r for r in sent_requests(avito_fake, "chat-law") if r.status == 200]
    assert sends and all(r.headers["Authorization"].startswith("Bearer ") for r in sends)
    assert avito_fake.token_calls >= 1
    assert avito_fake.calls_to("/token")[0].form["grant_type"] == "client_credentials"
    await wait_for(lambda: "chat-law" in avito_fake.read_chats, what="the chat marked read")
    with Session(engine) as session:
        lead = session.exec(select(Lead)).one()
        assert (lead.listing_id, lead.listing_product, lead.source_tag) == ("4242", "ai_lawyer", "avito-lead")
        events = session.exec(select(Event).where(Event.kind == "new_lead")).all()
        assert events and events[0].data["tag"] == "avito-lead"
    # the managers' Telegram chat hears about the new Avito lead, with the link to the Avito chat
    notice = await wait_for(lambda: tg_fake.texts(MANAGERS_CHAT), what="the new-lead notice")
    assert "Новый лид" in notice[0] and "https://www.avito.ru/profile/messenger/channel/chat-law" in notice[0]
    markup = tg_fake.messages[MANAGERS_CHAT][0]["reply_markup"]["inline_keyboard"][0]
    assert [b["text"] for b in markup] == ["Взять диалог", "Вернуть боту"]
    assert markup[0]["callback_data"] == f"mgr:take:{lead.id}"


async def test_429_then_success_and_token_revoked_mid_flow(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake, engine) -> None:
    avito_fake.add_chat("chat-429", item=LAWYER_ITEM)
    avito_fake.fail_next("/chats/chat-429/messages", 429, times=1, retry_after=0.2)
    await webhook(client, avito_event("chat-429", "Здравствуйте", item_id=4242))
    first = await wait_for(lambda: avito_fake.sent_texts("chat-429"), what="a reply after a 429")
    statuses = [r.status for r in sent_requests(avito_fake, "chat-429")]
    assert statuses[0] == 429 and 200 in statuses
    tokens_before = avito_fake.token_calls
    avito_fake.expire_all_tokens()  # Avito revokes the token: the next call answers 403
    await webhook(client, avito_event("chat-429", "Сколько стоит?"))
    await wait_for(lambda: len(avito_fake.sent_texts("chat-429")) > len(first), what="a reply after a revoked token")
    assert avito_fake.token_calls > tokens_before
    assert 403 in [r.status for r in sent_requests(avito_fake, "chat-429")]
    with Session(engine) as session:
        rows = session.exec(select(Outbox).where(Outbox.kind == "message")).all()
        assert rows and all(r.status == "sent" for r in rows)


async def test_redelivered_webhook_is_answered_once(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake) -> None:
    avito_fake.add_chat("chat-dup")
    body = avito_event("chat-dup", "Здравствуйте, актуально?")
    await asyncio.gather(webhook(client, body), webhook(client, body))
    texts = await wait_for(lambda: avito_fake.sent_texts("chat-dup"), what="a reply")
    await webhook(client, body)  # Avito retries later too
    await asyncio.sleep(2.0)  # time for a wrongly repeated job to show
    assert avito_fake.sent_texts("chat-dup") == texts


async def test_voice_gets_a_polite_text_request_and_the_file_url_is_kept(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake, engine) -> None:
    avito_fake.add_chat("chat-voice")
    avito_fake.voices["voice-9"] = "https://avito.example/voice/voice-9.m4a"
    await webhook(client, avito_event("chat-voice", None, msg_type="voice",
                                      content={"voice": {"voice_id": "voice-9"}}))
    texts = await wait_for(lambda: avito_fake.sent_texts("chat-voice"), what="an answer to a voice message")
    assert "текстом" in texts[0]
    with Session(engine) as session:
        message = session.exec(select(Message).where(Message.direction == "in")).one()
        assert message.kind == "voice"
        assert message.payload["voice_url"] == "https://avito.example/voice/voice-9.m4a"


async def test_undeliverable_reply_alerts_the_managers(  # type: ignore[no-untyped-def]
        client, worker, avito_fake: AvitoFake, tg_fake: TelegramFake, engine) -> None:
    # the chat does not exist at the fake: sending answers 404 (not retryable)
    await webhook(client, avito_event("chat-gone", "Здравствуйте"))
    texts = await wait_for(lambda: [t for t in tg_fake.texts(MANAGERS_CHAT) if "не доставлено" in t],
                           what="a delivery alert in the managers' chat")
    assert "Авито" in texts[0]
    with Session(engine) as session:
        failed = session.exec(select(Outbox).where(Outbox.kind == "message")).all()
        assert failed and failed[0].status == "failed"
