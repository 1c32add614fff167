"""The Avito and Telegram webhook receivers on the real app: secrets, validation, what is stored before the 200,
duplicates, media, oversize messages, the managers' chat. No worker: these check the receiving side only."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, select

from db.models import Message
from tests.support.channels import (
    AVITO_PATH,
    AVITO_SECRET,
    MANAGERS_CHAT,
    TG_PATH,
    TG_SECRET,
    avito_event,
    tg_callback,
    tg_message,
)

pytestmark = pytest.mark.channel_fakes


def count(engine: Any, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def text_of(engine: Any, message_id: int) -> str:
    """A message's text as the application reads it (it is encrypted at rest)."""
    with Session(engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.text


def rows(engine: Any, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).mappings())


async def post_avito(client: Any, body: Any, secret: str = AVITO_SECRET) -> Any:
    return await client.post(AVITO_PATH + secret, json=body)


async def post_tg(client: Any, body: Any, secret: str | None = TG_SECRET) -> Any:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return await client.post(TG_PATH, json=body, headers=headers)


# --- Avito ---------------------------------------------------------------------------------------------------
async def test_avito_wrong_or_missing_secret_is_404_and_stores_nothing(client, engine) -> None:  # type: ignore[no-untyped-def]
    body = avito_event("chat-a", "Здравствуйте, актуально?")
    for path in (AVITO_PATH + "wrong-secret", AVITO_PATH.rstrip("/"), AVITO_PATH + AVITO_SECRET + "x"):
        response = await client.post(path, json=body)
        assert response.status == 404, path
        assert (await response.json())["error"]["code"] == "not_found"
    assert count(engine, "SELECT count(*) FROM messages") == 0


async def test_avito_malformed_bodies_are_400_with_a_field(client, engine) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(AVITO_PATH + AVITO_SECRET, data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "invalid_webhook"
    broken = avito_event("chat-a", "Привет")
    del broken["payload"]["value"]["chat_id"]
    response = await post_avito(client, broken)
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "payload.value.chat_id"
    response = await post_avito(client, [1, 2, 3])
    assert response.status == 400
    assert count(engine, "SELECT count(*) FROM messages") == 0


async def test_avito_own_and_system_messages_are_acknowledged_not_stored(client, engine) -> None:  # type: ignore[no-untyped-def]
    own = avito_event("chat-a", "Ответ менеджера из приложения", author_id=100500)
    system = avito_event("chat-a", None, msg_type="system", content={"text": "Чат создан"})
    for body in (own, system):
        response = await post_avito(client, body)
        assert response.status == 200 and (await response.json()) == {"ok": True}
    assert count(engine, "SELECT count(*) FROM messages") == 0


async def test_avito_message_is_stored_before_200_once(client, engine) -> None:  # type: ignore[no-untyped-def]
    body = avito_event("chat-b", "Здравствуйте, актуально?", message_id="m-777", item_id=4242)
    first = await post_avito(client, body)
    assert first.status == 200
    stored = rows(engine, "SELECT m.id, m.external_id, m.kind, c.external_chat_id, l.listing_id, l.source_tag, "
                          "ci.external_id AS user_id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
                          "JOIN leads l ON l.id = m.lead_id JOIN client_identities ci ON ci.client_id = l.client_id")
    assert len(stored) == 1
    row = stored[0]
    assert (row["external_id"], row["kind"], text_of(engine, row["id"])) == ("m-777", "text",
                                                                          "Здравствуйте, актуально?")
    assert (row["external_chat_id"], row["listing_id"], row["user_id"]) == ("chat-b", "4242", "777")
    assert row["source_tag"] == "avito-lead"
    again = await post_avito(client, body)  # Avito redelivers
    assert again.status == 200
    assert count(engine, "SELECT count(*) FROM messages") == 1


async def test_avito_voice_and_image_are_stored_with_their_kind(client, engine) -> None:  # type: ignore[no-untyped-def]
    voice = avito_event("chat-v", None, msg_type="voice", content={"voice": {"voice_id": "voice-1"}})
    image = avito_event("chat-v", None, msg_type="image",
                        content={"image": {"sizes": {"140x105": "https://img/s", "1280x960": "https://img/l"}}})
    for body in (voice, image):
        assert (await post_avito(client, body)).status == 200
    stored = rows(engine, "SELECT kind, payload FROM messages ORDER BY id")
    assert [r["kind"] for r in stored] == ["voice", "image"]
    assert stored[0]["payload"]["voice_id"] == "voice-1"
    assert stored[1]["payload"]["media_url"] == "https://img/l"


async def test_avito_oversize_message_is_truncated_and_answered_politely(client, engine, settings) -> None:  # type: ignore[no-untyped-def]
    long_text = "Очень подробно опишу задачу. " * 400
    assert len(long_text) > settings.MAX_MESSAGE_LENGTH
    assert (await post_avito(client, avito_event("chat-long", long_text))).status == 200
    inbound = rows(engine, "SELECT id, payload, processed_at FROM messages WHERE direction = 'in'")
    assert len(inbound) == 1
    assert inbound[0]["payload"]["truncated"] is True
    assert inbound[0]["payload"]["original_length"] == len(long_text)
    assert inbound[0]["processed_at"] is not None  # never reaches the dialog as a cut-off text
    reply = rows(engine, "SELECT o.status, o.channel, o.kind FROM outbox o")
    assert reply == [{"status": "pending", "channel": "avito", "kind": "message"}]
    with Session(engine) as session:
        out = session.exec(select(Message).where(Message.direction == "out")).one()
        assert "длинн" in out.text and str(settings.MAX_MESSAGE_LENGTH) in out.text
        stored = session.exec(select(Message).where(Message.direction == "in")).one()
        assert len(stored.text) == settings.MAX_MESSAGE_LENGTH


# --- Telegram ------------------------------------------------------------------------------------------------
async def test_telegram_wrong_or_missing_secret_is_401_and_stores_nothing(client, engine) -> None:  # type: ignore[no-untyped-def]
    update = tg_message(5001, "Привет")
    for secret in ("wrong", None, ""):
        response = await post_tg(client, update, secret)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "unauthorized"
    assert count(engine, "SELECT count(*) FROM messages") == 0


async def test_telegram_bad_update_is_400(client, engine) -> None:  # type: ignore[no-untyped-def]
    response = await post_tg(client, {"update_id": "not a number", "message": 5})
    assert response.status == 400
    assert count(engine, "SELECT count(*) FROM messages") == 0


async def test_telegram_message_command_and_callback_are_stored_once(client, engine) -> None:  # type: ignore[no-untyped-def]
    text_update = tg_message(5002, "Сколько стоит ИИ-юрист?", update_id=900001)
    start = tg_message(5002, "/start site_abc123", update_id=900002)
    press = tg_callback(5002, "product:ai_lawyer", label="ИИ-Юрист", update_id=900003)
    for update in (text_update, start, press, text_update):  # the last one: Telegram redelivers
        response = await post_tg(client, update)
        assert response.status == 200, await response.text()
    stored = rows(engine, "SELECT m.external_id, m.kind, m.payload, c.external_chat_id FROM messages m "
                          "JOIN conversations c ON c.id = m.conversation_id ORDER BY m.id")
    assert [r["external_id"] for r in stored] == ["u900001", "u900002", "u900003"]
    assert [r["kind"] for r in stored] == ["text", "command", "callback"]
    assert {r["external_chat_id"] for r in stored} == {"5002"}
    callback = stored[2]["payload"]
    assert callback["callback"] == "product:ai_lawyer" and callback["label"] == "ИИ-Юрист"
    assert callback["callback_query_id"] == press["callback_query"]["id"]
    assert count(engine, "SELECT count(*) FROM leads WHERE source_tag = 'telegram-lead'") == 1


async def test_telegram_voice_and_photo_kinds(client, engine) -> None:  # type: ignore[no-untyped-def]
    voice = tg_message(5003, None, extra={"voice": {"file_id": "v1", "file_unique_id": "uv1", "duration": 3}})
    photo = tg_message(5003, None, extra={"photo": [{"file_id": "p1", "file_unique_id": "up1", "width": 90,
                                                      "height": 90}], "caption": "Вот скрин"})
    for update in (voice, photo):
        assert (await post_tg(client, update)).status == 200
    stored = rows(engine, "SELECT kind, payload FROM messages ORDER BY id")
    assert [r["kind"] for r in stored] == ["voice", "image"]
    assert stored[0]["payload"]["file_id"] == "v1"


async def test_telegram_oversize_message_gets_a_polite_answer(client, engine, settings) -> None:  # type: ignore[no-untyped-def]
    long_text = "а" * (settings.MAX_MESSAGE_LENGTH + 50)
    assert (await post_tg(client, tg_message(5004, long_text))).status == 200
    stored = rows(engine, "SELECT payload, processed_at FROM messages WHERE direction = 'in'")
    assert stored[0]["payload"]["truncated"] is True and stored[0]["processed_at"] is not None
    assert count(engine, "SELECT count(*) FROM outbox WHERE kind = 'message' AND channel = 'telegram'") == 1


async def test_managers_chat_updates_are_stored_apart_from_clients(client, engine) -> None:  # type: ignore[no-untyped-def]
    press = tg_callback(MANAGERS_CHAT, "mgr:take:1", label="Взять диалог")
    chatter = tg_message(MANAGERS_CHAT, "Коллеги, кто на смене?")  # not a reply to the bot: ignored
    for update in (press, press, chatter):
        assert (await post_tg(client, update)).status == 200
    assert count(engine, "SELECT count(*) FROM manager_updates") == 1
    assert count(engine, "SELECT count(*) FROM messages") == 0
    assert count(engine, "SELECT count(*) FROM leads") == 0
