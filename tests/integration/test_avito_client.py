"""The real AvitoClient against the local Avito fake, with the token in the session's embedded Valkey."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aioredis

from integrations.avito import AvitoClient, AvitoConfig, AvitoInbound, parse_webhook
from integrations.text_split import split_text, utf16_len
from tests.fakes.avito_fake import AvitoFake
from tests.support.sleep import SleepRecorder
from voronka.errors import NotConfigured, UpstreamError, ValidationError

TOKEN_KEY = "voronka:avito:token"


@pytest.fixture
async def avito() -> AsyncIterator[AvitoFake]:
    async with AvitoFake() as fake:
        fake.add_chat("u2i-chat-1", item={"id": 4242, "title": "ИИ-Юрист для вашего бизнеса",
                                          "price_string": "от 50 000 ₽",
                                          "url": "https://www.avito.ru/moskva/predlozheniya_uslug/4242"})
        yield fake


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


def config_for(fake: AvitoFake, **overrides: Any) -> AvitoConfig:
    values: dict[str, Any] = {"api_url": fake.base_url, "client_id": fake.client_id,
                              "client_secret": fake.client_secret, "user_id": str(fake.user_id)}
    values.update(overrides)
    return AvitoConfig(**values)


@pytest.fixture
def avito_client(avito: AvitoFake, http: aiohttp.ClientSession, aredis: aioredis.Redis,
           sleeps: SleepRecorder) -> AvitoClient:
    return AvitoClient(config_for(avito), session=http, redis=aredis, sleep=sleeps)


# --- token ------------------------------------------------------------------------------------------
async def test_token_is_obtained_once_and_shared_through_redis(
        avito_client: AvitoClient, avito: AvitoFake, aredis: aioredis.Redis) -> None:
    await avito_client.send_text("u2i-chat-1", "Здравствуйте!")
    await avito_client.mark_read("u2i-chat-1")
    assert avito.token_calls == 1
    token_request = avito.calls_to("/token")[0]
    assert token_request.form == {"grant_type": "client_credentials", "client_id": avito.client_id,
                                  "client_secret": avito.client_secret}

    raw = await aredis.get(TOKEN_KEY)
    assert raw is not None
    stored = json.loads(raw)
    ttl = await aredis.ttl(TOKEN_KEY)
    assert 86400 - 60 < ttl <= 86400
    sent_with = {r.headers["Authorization"] for r in avito.requests if r.path != "/token"}
    assert sent_with == {f"Bearer {stored['access_token']}"}

    # another process: its own session, the same Redis — no second /token call
    async with aiohttp.ClientSession() as other_session:
        other = AvitoClient(config_for(avito), session=other_session, redis=aredis)
        await other.send_text("u2i-chat-1", "Второе сообщение")
    assert avito.token_calls == 1
    assert avito.sent_texts("u2i-chat-1") == ["Здравствуйте!", "Второе сообщение"]


async def test_racing_clients_make_a_single_token_call(avito: AvitoFake, aredis: aioredis.Redis) -> None:
    avito.token_delay = 0.2  # every racer finds the cache empty before the first token lands
    async with aiohttp.ClientSession() as s1, aiohttp.ClientSession() as s2:
        first = AvitoClient(config_for(avito), session=s1, redis=aredis)
        second = AvitoClient(config_for(avito), session=s2, redis=aredis)
        await asyncio.gather(*[
            (first if i % 2 else second).send_text("u2i-chat-1", f"Сообщение {i}") for i in range(20)
        ])
    assert avito.token_calls == 1
    assert sorted(avito.sent_texts("u2i-chat-1")) == sorted(f"Сообщение {i}" for i in range(20))


async def test_expired_token_mid_flow_refreshes_once_and_delivers(
        avito_client: AvitoClient, avito: AvitoFake) -> None:
    await avito_client.send_text("u2i-chat-1", "Первое")
    avito.expire_all_tokens()
    await avito_client.send_text("u2i-chat-1", "После истечения токена")

    assert avito.token_calls == 2
    send_statuses = [r.status for r in avito.calls_to("/chats/u2i-chat-1/messages")]
    assert send_statuses == [200, 403, 200]
    assert avito.sent_texts("u2i-chat-1") == ["Первое", "После истечения токена"]


async def test_many_calls_hitting_an_expired_token_refresh_it_once(
        avito_client: AvitoClient, avito: AvitoFake) -> None:
    await avito_client.mark_read("u2i-chat-1")
    avito.expire_all_tokens()
    avito.token_delay = 0.2
    await asyncio.gather(*[avito_client.send_text("u2i-chat-1", f"Текст {i}") for i in range(10)])
    assert avito.token_calls == 2
    assert len(avito.sent_texts("u2i-chat-1")) == 10


async def test_token_close_to_expiry_is_refreshed_before_use(
        avito_client: AvitoClient, avito: AvitoFake, aredis: aioredis.Redis) -> None:
    await avito_client.get_token()
    assert await avito_client.seconds_until_refresh() == pytest.approx(86400 - 3600, abs=60)
    await aredis.pexpire(TOKEN_KEY, 30 * 60 * 1000)  # 30 minutes left: inside the one-hour window
    assert await avito_client.seconds_until_refresh() == 0
    await avito_client.mark_read("u2i-chat-1")
    assert avito.token_calls == 2
    assert await aredis.ttl(TOKEN_KEY) > 86400 - 60


async def test_bad_credentials_are_not_retried(avito: AvitoFake, http: aiohttp.ClientSession,
                                               aredis: aioredis.Redis, sleeps: SleepRecorder) -> None:
    avito_client = AvitoClient(config_for(avito, client_secret="wrong"), session=http, redis=aredis, sleep=sleeps)
    with pytest.raises(UpstreamError) as info:
        await avito_client.send_text("u2i-chat-1", "Привет")
    assert info.value.retryable is False
    assert info.value.status_code == 401
    assert "invalid_client" in info.value.message
    assert avito.token_calls == 1
    assert sleeps.calls == []
    assert await aredis.get(TOKEN_KEY) is None


async def test_missing_configuration_raises_not_configured(
        http: aiohttp.ClientSession, aredis: aioredis.Redis, settings: Any) -> None:
    avito_client = AvitoClient(settings, session=http, redis=aredis)  # the test settings have no Avito keys
    assert avito_client.configured is False
    with pytest.raises(NotConfigured):
        await avito_client.send_text("chat", "Привет")


# --- retries ----------------------------------------------------------------------------------------
async def test_429_waits_retry_after_then_succeeds(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    await avito_client.get_token()
    avito.fail_next("/messages", 429, retry_after=7)
    sent = await avito_client.send_text("u2i-chat-1", "Повтор после 429")
    assert sleeps.calls == [7]
    assert [r.status for r in avito.calls_to("/chats/u2i-chat-1/messages")] == [429, 200]
    assert avito.sent_texts("u2i-chat-1") == ["Повтор после 429"]
    assert sent[0]["direction"] == "out"


async def test_server_errors_use_exponential_backoff_then_give_up(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    await avito_client.get_token()
    avito.fail_next("/messages", 503, times=4)
    with pytest.raises(UpstreamError) as info:
        await avito_client.send_text("u2i-chat-1", "Не дойдёт")
    assert info.value.retryable is True
    assert info.value.status_code == 503
    assert len(avito.calls_to("/chats/u2i-chat-1/messages")) == 4  # one try + MAX_RETRIES
    assert len(sleeps.calls) == 3
    for waited, base in zip(sleeps.calls, (1, 2, 4), strict=True):
        assert base * 0.8 <= waited <= base * 1.2
    assert avito.sent_texts("u2i-chat-1") == []


async def test_server_errors_three_times_then_success(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    await avito_client.get_token()
    avito.fail_next("/messages", 500, times=3)
    await avito_client.send_text("u2i-chat-1", "Дойдёт с четвёртой попытки")
    assert len(sleeps.calls) == 3
    assert avito.sent_texts("u2i-chat-1") == ["Дойдёт с четвёртой попытки"]


async def test_token_endpoint_outage_is_retried(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    avito.fail_next("/token", 502, times=2)
    await avito_client.mark_read("u2i-chat-1")
    assert avito.token_calls == 1  # the two 502s never reached the handler
    assert len(avito.calls_to("/token")) == 3
    assert len(sleeps.calls) == 2
    assert avito.read_chats == ["u2i-chat-1"]


async def test_long_retry_after_is_left_to_the_queue(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    await avito_client.get_token()
    avito.fail_next("/read", 429, retry_after=600)
    with pytest.raises(UpstreamError) as info:
        await avito_client.mark_read("u2i-chat-1")
    assert info.value.retryable is True
    assert info.value.retry_after == 600
    assert sleeps.calls == []


async def test_client_errors_carry_avito_message_and_are_not_retried(
        avito_client: AvitoClient, avito: AvitoFake, sleeps: SleepRecorder) -> None:
    with pytest.raises(UpstreamError) as info:
        await avito_client.get_chat("no-such-chat")
    assert info.value.retryable is False
    assert info.value.status_code == 404
    assert "Chat not found" in info.value.message
    assert len(avito.calls_to("/chats/no-such-chat")) == 1
    assert sleeps.calls == []


# --- messenger --------------------------------------------------------------------------------------
async def test_long_text_is_split_on_sentences_in_order(avito_client: AvitoClient, avito: AvitoFake) -> None:
    sentences = [f"Это предложение номер {i}, в нём рассказывается о пакете услуг ИИ-Менеджера." for i in
                 range(60)]
    text = " ".join(sentences)
    assert len(text) > 3 * 1000

    sent = await avito_client.send_text("u2i-chat-1", text)

    parts = avito.sent_texts("u2i-chat-1")
    assert len(parts) == len(sent) >= 4
    assert all(len(p) <= 1000 for p in parts)
    assert all(p.endswith(".") for p in parts)  # every part ends where a sentence ends
    assert " ".join(parts) == text  # nothing lost, order kept
    assert [m["id"] for m in sent] == [m["id"] for m in avito.sent["u2i-chat-1"]]


async def test_fake_rejects_a_text_over_1000_characters(
        avito_client: AvitoClient, avito: AvitoFake, http: aiohttp.ClientSession) -> None:
    token = await avito_client.get_token()
    async with http.post(f"{avito.base_url}/messenger/v1/accounts/{avito.user_id}/chats/u2i-chat-1/messages",
                         json={"message": {"text": "я" * 1001}, "type": "text"},
                         headers={"Authorization": f"Bearer {token}"}) as resp:
        assert resp.status == 400
        assert "1000" in (await resp.json())["error"]["message"]


async def test_empty_text_is_refused_before_sending(avito_client: AvitoClient, avito: AvitoFake) -> None:
    with pytest.raises(ValidationError) as info:
        await avito_client.send_text("u2i-chat-1", "   \n ")
    assert info.value.field == "text"
    assert avito.calls_to("/messages") == []


async def test_mark_read_chat_and_messages(avito_client: AvitoClient, avito: AvitoFake) -> None:
    avito.add_incoming("u2i-chat-1", "Здравствуйте, актуально?")
    unread = await avito_client.list_chats(unread_only=True)
    assert [c["id"] for c in unread] == ["u2i-chat-1"]

    await avito_client.mark_read("u2i-chat-1")
    assert avito.read_chats == ["u2i-chat-1"]
    assert await avito_client.list_chats(unread_only=True) == []

    chat = await avito_client.get_chat("u2i-chat-1")
    assert chat["context"]["value"]["id"] == 4242
    assert chat["context"]["value"]["title"] == "ИИ-Юрист для вашего бизнеса"
    assert chat["context"]["value"]["url"].endswith("/4242")

    await avito_client.send_text("u2i-chat-1", "Да, актуально!")
    messages = await avito_client.get_messages("u2i-chat-1", limit=10)
    assert [m["direction"] for m in messages] == ["out", "in"]  # newest first
    assert messages[0]["content"]["text"] == "Да, актуально!"
    assert avito.calls_to("/messages/")[0].path.startswith(f"/messenger/v3/accounts/{avito.user_id}/")

    by_item = await avito_client.list_chats(item_ids=[4242])
    assert [c["id"] for c in by_item] == ["u2i-chat-1"]
    assert await avito_client.list_chats(item_ids=[1]) == []


async def test_images_voices_delete_and_blacklist(avito_client: AvitoClient, avito: AvitoFake) -> None:
    image_id = await avito_client.upload_image(b"\x89PNG fake bytes", filename="preview.png", content_type="image/png")
    assert avito.images[image_id] == ("preview.png", b"\x89PNG fake bytes")
    sent = await avito_client.send_image("u2i-chat-1", image_id)
    assert sent["type"] == "image"

    avito.voices["v1"] = "https://avito.st/voice/v1.ogg"
    assert await avito_client.get_voice_urls(["v1", "missing"]) == {"v1": "https://avito.st/voice/v1.ogg"}
    assert avito.calls_to("getVoiceFiles")[0].query == {"voice_ids": ["v1", "missing"]}

    await avito_client.delete_message("u2i-chat-1", sent["id"])
    assert avito.deleted == [("u2i-chat-1", sent["id"])]

    await avito_client.blacklist(777, item_id=4242)
    assert avito.blacklisted == [{"user_id": 777, "context": {"item_id": 4242}}]


async def test_webhook_subscriptions(avito_client: AvitoClient, avito: AvitoFake) -> None:
    url = "https://voronka.example/api/v1/webhooks/avito/messages/s3cr3t"
    await avito_client.subscribe_webhook(url)
    await avito_client.subscribe_webhook(url)
    assert await avito_client.list_subscriptions() == [{"url": url, "version": "3"}]
    await avito_client.unsubscribe_webhook(url)
    assert await avito_client.list_subscriptions() == []
    with pytest.raises(UpstreamError) as info:
        await avito_client.subscribe_webhook("http://insecure.example/hook")
    assert info.value.retryable is False


# --- items ------------------------------------------------------------------------------------------
async def test_items_listing_stats_and_price(avito_client: AvitoClient, avito: AvitoFake,
                                             sleeps: SleepRecorder) -> None:
    avito.add_item(4242, "ИИ-Юрист", 50000)
    avito.add_item(4343, "ИИ-Аналитик", 70000, price_editable=False)
    avito.add_item(4444, "Старое объявление", 10000, status="old")
    avito.stats[4242] = [{"date": "2024-05-01", "uniqViews": 120, "uniqContacts": 7, "uniqFavorites": 3},
                         {"date": "2024-06-01", "uniqViews": 99, "uniqContacts": 1, "uniqFavorites": 0}]

    items = await avito_client.list_items(page=1, per_page=10)
    assert {i["id"] for i in items} == {4242, 4343}
    info = await avito_client.get_item(4242)
    assert info["status"] == "active"

    stats = await avito_client.item_stats([4242], date(2024, 5, 1), date(2024, 5, 31))
    assert stats["result"]["items"] == [{"itemId": 4242, "stats": [
        {"date": "2024-05-01", "uniqViews": 120, "uniqContacts": 7, "uniqFavorites": 3}]}]

    assert await avito_client.update_price(4242, 55000) == {"result": {"success": True}}
    assert avito.items[4242]["price"] == 55000

    with pytest.raises(UpstreamError) as locked:
        await avito_client.update_price(4343, 80000)
    assert locked.value.retryable is False
    assert "not available for this category" in locked.value.message

    avito.fail_next("update_price", 500)
    with pytest.raises(UpstreamError):
        await avito_client.update_price(4242, 60000)
    assert len(avito.calls_to("/core/v1/items/4242/update_price")) == 2  # the 500 was not retried
    assert sleeps.calls == []
    assert avito.items[4242]["price"] == 55000


# --- webhook parsing --------------------------------------------------------------------------------
def webhook(**value: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "msg-1", "chat_id": "u2i-chat-1", "user_id": 100500, "author_id": 777, "created": 1700000000,
        "type": "text", "chat_type": "u2i", "content": {"text": "Здравствуйте, актуально?"}, "item_id": 4242,
        "published_at": "2023-11-14T22:13:20Z",
    }
    base.update(value)
    return {"id": "evt-1", "version": "v3.0.0", "timestamp": 1700000000,
            "payload": {"type": "message", "value": base}}


def test_webhook_text_message_is_parsed() -> None:
    inbound = parse_webhook(webhook())
    assert isinstance(inbound, AvitoInbound)
    assert (inbound.event_id, inbound.message_id, inbound.chat_id) == ("evt-1", "msg-1", "u2i-chat-1")
    assert (inbound.author_id, inbound.user_id, inbound.item_id) == (777, 100500, 4242)
    assert inbound.type == "text"
    assert inbound.text == "Здравствуйте, актуально?"
    assert inbound.created.timestamp() == 1700000000


def test_webhook_own_and_system_messages_are_skipped() -> None:
    assert parse_webhook(webhook(author_id=100500)) is None
    assert parse_webhook(webhook(type="system", content={"text": "Сделка завершена"})) is None


def test_webhook_voice_and_image_keep_their_type() -> None:
    voice = parse_webhook(webhook(type="voice", content={"voice": {"voice_id": "vc-9"}}))
    assert voice is not None and voice.type == "voice" and voice.voice_id == "vc-9" and voice.text is None
    image = parse_webhook(webhook(type="image", content={"image": {"sizes": {
        "140x105": "https://img/small", "1280x960": "https://img/large", "640x480": "https://img/mid"}}}))
    assert image is not None and image.type == "image" and image.image_url == "https://img/large"
    file = parse_webhook(webhook(type="file", content={}))
    assert file is not None and file.type == "file"


@pytest.mark.parametrize(("body", "field"), [
    ("not a dict", "body"),
    ({"id": "evt-1"}, "payload"),
    ({"id": "evt-1", "payload": {"type": "message"}}, "payload.value"),
    (webhook(chat_id=None), "payload.value.chat_id"),
    (webhook(author_id="Иван"), "payload.value.author_id"),
    (webhook(type="hologram"), "payload.value.type"),
    (webhook(content={"voice": {}}), "payload.value.content.text"),
    (webhook(content="текст строкой"), "payload.value.content"),
])
def test_malformed_webhook_names_the_field(body: Any, field: str) -> None:
    with pytest.raises(ValidationError) as info:
        parse_webhook(body)
    assert info.value.field == field


# --- text splitting ---------------------------------------------------------------------------------
def test_split_prefers_sentences_then_words_and_cuts_only_giant_words() -> None:
    assert split_text("Коротко.", 1000) == ["Коротко."]
    assert split_text("  \n ", 10) == []
    assert split_text("Раз два. Три четыре! Пять?", 12) == ["Раз два.", "Три четыре!", "Пять?"]
    assert split_text("один два три четыре пять", 10) == ["один два", "три четыре", "пять"]
    assert split_text("а" * 25, 10) == ["а" * 10, "а" * 10, "а" * 5]
    assert split_text("Строка первая\nСтрока вторая", 15) == ["Строка первая", "Строка вторая"]


def test_split_never_exceeds_limit_and_keeps_every_word() -> None:
    text = " ".join(f"Слово{i}." if i % 7 == 0 else f"слово{i}" for i in range(500))
    for limit in (5, 17, 64, 300):
        parts = split_text(text, limit)
        assert all(0 < len(p) <= limit for p in parts)
        assert re.sub(r"\s", "", "".join(parts)) == re.sub(r"\s", "", text)


def test_split_can_count_utf16_units_for_telegram() -> None:
    parts = split_text("😀" * 10, 5, measure=utf16_len)
    assert all(utf16_len(p) <= 5 for p in parts)
    assert "".join(parts) == "😀" * 10
