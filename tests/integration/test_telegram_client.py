"""aiogram's Bot (through TelegramSender) against the local Telegram Bot API fake."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiogram import Bot

from integrations.telegram import ChatBlocked, TelegramSender, make_bot
from tests.fakes.telegram_fake import TelegramFake
from tests.support.sleep import SleepRecorder
from voronka.errors import UpstreamError, ValidationError

CHAT = 555000111


@pytest.fixture
async def tg() -> AsyncIterator[TelegramFake]:
    async with TelegramFake() as fake:
        yield fake


@pytest.fixture
async def bot(tg: TelegramFake) -> AsyncIterator[Bot]:
    bot = make_bot(tg.token, tg.base_url)
    yield bot
    await bot.session.close()


@pytest.fixture
def sender(bot: Bot, sleeps: SleepRecorder) -> TelegramSender:
    return TelegramSender(bot, sleep=sleeps)


async def test_message_with_inline_keyboard(sender: TelegramSender, tg: TelegramFake) -> None:
    ids = await sender.send_text(CHAT, "Какая услуга вам интересна?", [
        [("ИИ-Менеджер", "product:ai_manager"), ("ИИ-Юрист", "product:ai_lawyer")],
        [("Сайт агентства", "https://voronka.ai")],
    ])
    call = tg.calls_of("sendMessage")[0]
    assert call.params["chat_id"] == CHAT
    assert call.params["text"] == "Какая услуга вам интересна?"
    assert call.params["reply_markup"] == {"inline_keyboard": [
        [{"text": "ИИ-Менеджер", "callback_data": "product:ai_manager"},
         {"text": "ИИ-Юрист", "callback_data": "product:ai_lawyer"}],
        [{"text": "Сайт агентства", "url": "https://voronka.ai"}],
    ]}
    assert ids == [tg.messages[CHAT][0]["message_id"]]


async def test_long_text_split_with_buttons_on_last_part(sender: TelegramSender, tg: TelegramFake) -> None:
    text = " ".join(f"Пункт {i}: подробное описание этапа внедрения ИИ-Аналитика." for i in range(150))
    assert len(text) > 2 * 4096
    ids = await sender.send_text(CHAT, text, [[("Рассчитать стоимость", "quote")]])
    parts = tg.texts(CHAT)
    assert len(ids) == len(parts) >= 3
    assert all(len(p) <= 4096 and p.endswith(".") for p in parts)
    assert " ".join(parts) == text
    markups = [c.params.get("reply_markup") for c in tg.calls_of("sendMessage")]
    assert markups[:-1] == [None] * (len(parts) - 1)
    assert markups[-1] == {"inline_keyboard": [[{"text": "Рассчитать стоимость", "callback_data": "quote"}]]}


async def test_oversized_callback_data_is_refused_before_sending(
        sender: TelegramSender, tg: TelegramFake) -> None:
    with pytest.raises(ValidationError) as info:
        await sender.send_text(CHAT, "Выберите", [[("Кнопка", "я" * 40)]])  # 80 bytes
    assert info.value.field == "buttons"
    assert tg.calls == []


async def test_document_is_uploaded_with_name_and_bytes(sender: TelegramSender, tg: TelegramFake) -> None:
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF"
    message_id = await sender.send_document(CHAT, "КП_ИИ-Юрист.pdf", pdf, caption="Коммерческое предложение")
    assert tg.documents == [{"chat_id": CHAT, "filename": "КП_ИИ-Юрист.pdf", "data": pdf,
                             "caption": "Коммерческое предложение"}]
    assert tg.calls_of("sendDocument")[0].content_type == "multipart/form-data"
    assert tg.messages[CHAT][-1]["message_id"] == message_id


async def test_typing_and_callback_answer(sender: TelegramSender, tg: TelegramFake) -> None:
    await sender.send_typing(CHAT)
    await sender.answer_callback("cbq-1", "Принято")
    assert tg.chat_actions == [(CHAT, "typing")]
    assert tg.callback_answers == [{"callback_query_id": "cbq-1", "text": "Принято", "show_alert": False}]
    with pytest.raises(UpstreamError) as info:  # Telegram refuses a second answer to the same query
        await sender.answer_callback("cbq-1")
    assert info.value.retryable is False and info.value.status_code == 400


async def test_edit_and_remove_buttons(sender: TelegramSender, tg: TelegramFake) -> None:
    [message_id] = await sender.send_text(CHAT, "Подтвердите", [[("Да", "yes"), ("Нет", "no")]])
    await sender.edit_buttons(CHAT, message_id, [[("Готово", "done")]])
    assert tg.messages[CHAT][0]["reply_markup"] == {"inline_keyboard": [[{"text": "Готово",
                                                                          "callback_data": "done"}]]}
    await sender.edit_buttons(CHAT, message_id, None)
    assert "reply_markup" not in tg.messages[CHAT][0]
    await sender.edit_buttons(CHAT, message_id, None)  # "message is not modified": already as wanted
    assert len(tg.calls_of("editMessageReplyMarkup")) == 3


async def test_429_waits_retry_after_and_resends(sender: TelegramSender, tg: TelegramFake,
                                                 sleeps: SleepRecorder) -> None:
    tg.fail_next("sendMessage", 429, retry_after=7, chat_id=CHAT)
    await sender.send_text(CHAT, "Отправится после паузы")
    assert sleeps.calls == [7]
    assert [c.status for c in tg.calls_of("sendMessage")] == [429, 200]
    assert tg.texts(CHAT) == ["Отправится после паузы"]


async def test_persistent_429_gives_up_retryable(sender: TelegramSender, tg: TelegramFake,
                                                 sleeps: SleepRecorder) -> None:
    tg.fail_next("sendMessage", 429, retry_after=2, times=10)
    with pytest.raises(UpstreamError) as info:
        await sender.send_text(CHAT, "Не дойдёт")
    assert info.value.retryable is True and info.value.retry_after == 2
    assert sleeps.calls == [2, 2, 2]
    assert tg.texts(CHAT) == []


async def test_blocked_chat_raises_chat_blocked(sender: TelegramSender, tg: TelegramFake,
                                                sleeps: SleepRecorder) -> None:
    tg.block_chat(CHAT)
    with pytest.raises(ChatBlocked) as info:
        await sender.send_text(CHAT, "Вы тут?")
    assert info.value.chat_id == CHAT
    assert "blocked" in info.value.description
    assert info.value.retryable is False
    with pytest.raises(ChatBlocked):
        await sender.send_document(CHAT, "file.pdf", b"%PDF")
    assert len(tg.calls_of("sendMessage")) == 1 and sleeps.calls == []
    await sender.send_text(CHAT + 1, "Другому клиенту дойдёт")
    assert tg.texts(CHAT + 1) == ["Другому клиенту дойдёт"]


async def test_server_error_is_retried_with_backoff(sender: TelegramSender, tg: TelegramFake,
                                                    sleeps: SleepRecorder) -> None:
    tg.fail_next("sendMessage", 502, times=2)
    await sender.send_text(CHAT, "После сбоя сервера")
    assert len(sleeps.calls) == 2
    assert tg.texts(CHAT) == ["После сбоя сервера"]


async def test_wrong_token_is_unauthorized(tg: TelegramFake) -> None:
    bot = make_bot("42:wrong-token", tg.base_url)
    try:
        with pytest.raises(UpstreamError) as info:
            await TelegramSender(bot).send_text(CHAT, "Привет")
        assert info.value.status_code == 401 and info.value.retryable is False
    finally:
        await bot.session.close()
    async with aiohttp.ClientSession() as http, http.post(
            f"{tg.base_url}/bot42:wrong-token/getMe") as resp:
        assert resp.status == 401
        assert await resp.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_webhook_set_info_delete(sender: TelegramSender, tg: TelegramFake) -> None:
    url = "https://voronka.example/api/v1/webhooks/telegram"
    assert await sender.set_webhook(url, "s3cret_Token-42", drop_pending_updates=True) is True
    assert tg.webhook["secret_token"] == "s3cret_Token-42"
    info = await sender.webhook_info()
    assert info["url"] == url
    assert info["allowed_updates"] == ["message", "callback_query"]
    assert await sender.delete_webhook() is True
    assert (await sender.webhook_info())["url"] == ""

    with pytest.raises(ValidationError) as info_err:
        await sender.set_webhook(url, "bad secret!")
    assert info_err.value.field == "secret"
    assert len(tg.calls_of("setWebhook")) == 1


async def test_fake_rejects_bad_secret_and_long_text_as_telegram_does(tg: TelegramFake) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(f"{tg.base_url}/bot{tg.token}/setWebhook",
                             json={"url": "https://x.example/hook", "secret_token": "no spaces"}) as resp:
            assert resp.status == 400
            assert "secret token" in (await resp.json())["description"]
        async with http.post(f"{tg.base_url}/bot{tg.token}/sendMessage",
                             json={"chat_id": CHAT, "text": "x" * 4097}) as resp:
            assert resp.status == 400
            assert (await resp.json())["description"] == "Bad Request: message is too long"


async def test_get_me(sender: TelegramSender, tg: TelegramFake) -> None:
    me = await sender.get_me()
    assert me["username"] == tg.username and me["is_bot"] is True
