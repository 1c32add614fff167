"""Shared pieces of the channel tests: settings and worker environment pointing our real clients at the Avito and
Telegram fakes (the fakes themselves are fixtures in tests/fixtures/fakes.py), and builders of webhook bodies as
Avito and Telegram send them."""

from __future__ import annotations

import itertools
import time
from typing import Any

from tests.fakes.avito_fake import AvitoFake
from tests.fakes.telegram_fake import TelegramFake

AVITO_SECRET = "avito-hook-secret-0123456789abcdefXYZ"
TG_SECRET = "tg-hook-secret_0123456789"
MANAGERS_CHAT = -1001234567890
AVITO_PATH = "/api/v1/webhooks/avito/messages/"
TG_PATH = "/api/v1/webhooks/telegram"
_ids = itertools.count(int(time.time()) % 100000 * 1000)


def channel_values(avito: AvitoFake, tg: TelegramFake) -> dict[str, Any]:
    return {
        "AVITO_API_URL": avito.base_url, "AVITO_CLIENT_ID": avito.client_id,
        "AVITO_CLIENT_SECRET": avito.client_secret, "AVITO_USER_ID": str(avito.user_id),
        "AVITO_WEBHOOK_SECRET": AVITO_SECRET,
        "TELEGRAM_API_URL": tg.base_url, "TELEGRAM_BOT_TOKEN": tg.token, "TELEGRAM_WEBHOOK_SECRET": TG_SECRET,
        "MANAGER_TELEGRAM_CHAT_ID": str(MANAGERS_CHAT), "VORONKA_PUBLIC_URL": "https://voronka.example",
    }


def worker_env(avito: AvitoFake, tg: TelegramFake, **extra: str) -> dict[str, str]:
    return {**{k: str(v) for k, v in channel_values(avito, tg).items()}, **extra}


def avito_event(chat_id: str, text: str | None = "Здравствуйте", *, message_id: str | None = None,
                author_id: int = 777, user_id: int = 100500, item_id: int | None = None, msg_type: str = "text",
                content: dict[str, Any] | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": message_id or f"msg-{next(_ids)}", "chat_id": chat_id, "user_id": user_id, "author_id": author_id,
        "created": int(time.time()), "type": msg_type, "chat_type": "u2i",
        "content": content if content is not None else {"text": text},
    }
    if item_id is not None:
        value["item_id"] = item_id
    return {"id": f"evt-{next(_ids)}", "version": "v3.0.0", "timestamp": int(time.time()),
            "payload": {"type": "message", "value": value}}


def _user(user_id: int, name: str = "Иван") -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": name, "language_code": "ru"}


def tg_message(chat_id: int, text: str | None, *, update_id: int | None = None, user_id: int | None = None,
               reply_to: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
               name: str = "Иван") -> dict[str, Any]:
    user_id = user_id or (chat_id if chat_id > 0 else 424242)
    chat = {"id": chat_id, "type": "private", "first_name": name} if chat_id > 0 else \
        {"id": chat_id, "type": "supergroup", "title": "Менеджеры"}
    message: dict[str, Any] = {"message_id": next(_ids) % 1_000_000, "date": int(time.time()), "chat": chat,
                               "from": _user(user_id, name)}
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
    if reply_to is not None:
        message["reply_to_message"] = reply_to
    message.update(extra or {})
    return {"update_id": update_id or next(_ids), "message": message}


def tg_callback(chat_id: int, data: str, *, label: str = "Кнопка", update_id: int | None = None,
                user_id: int | None = None, message_id: int = 1, bot_id: int = 123456789) -> dict[str, Any]:
    user_id = user_id or (chat_id if chat_id > 0 else 424242)
    chat = {"id": chat_id, "type": "private", "first_name": "Иван"} if chat_id > 0 else \
        {"id": chat_id, "type": "supergroup", "title": "Менеджеры"}
    message = {"message_id": message_id, "date": int(time.time()), "chat": chat,
               "from": {"id": bot_id, "is_bot": True, "first_name": "Воронка"}, "text": "Выберите:",
               "reply_markup": {"inline_keyboard": [[{"text": label, "callback_data": data}]]}}
    return {"update_id": update_id or next(_ids),
            "callback_query": {"id": f"cbq-{next(_ids)}", "from": _user(user_id), "chat_instance": "ci-1",
                               "message": message, "data": data}}


def bot_message(chat_id: int, message: dict[str, Any]) -> dict[str, Any]:
    """A message the bot sent (as the fake recorded it), to be quoted in ``reply_to_message``."""
    return {"message_id": message["message_id"], "date": message["date"], "chat": message["chat"],
            "from": message["from"], "text": message.get("text", "")}
