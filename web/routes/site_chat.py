"""The site chat API — a public contract used by the widget and automated dialog checks. Keep it stable.

POST /api/v1/site/messages  {"session_id", "text"} | {"session_id", "callback"} [, "client_message_id"] → 202
GET  /api/v1/site/messages?session_id=..&after=<id>&wait=<0..25>                                      → 200
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any

from aiohttp import web

from pipelines.buttons import valid_callback_data
from pipelines.channels.site import accept_site_event, chat_inbound, site_messages
from voronka.errors import PayloadTooLarge, ValidationError
from web import keys
from web.jsonutil import json_response

SESSION_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLIENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_WAIT_SECONDS = 25.0
RECHECK_SECONDS = 2.0  # long-polls re-read the database this often even without a notification


async def read_json(request: web.Request, *, max_bytes: int) -> dict[str, Any]:
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge("Сообщение слишком длинное. Пожалуйста, сократите его.", field="text")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError("Тело запроса должно быть корректным JSON", field=None, code="invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationError("Ожидается JSON-объект", field=None, code="invalid_json")
    return body


def validate_session_id(value: Any) -> str:
    if not isinstance(value, str) or not SESSION_RE.match(value):
        raise ValidationError("session_id: 1–64 символа A-Z, a-z, 0-9, _ или -", field="session_id")
    return value


def parse_post(body: dict[str, Any], max_length: int) -> tuple[str, str, str, str | None]:
    """(session_id, kind, text_or_callback, client_message_id)."""
    session_id = validate_session_id(body.get("session_id"))
    text, callback = body.get("text"), body.get("callback")
    if (text is None) == (callback is None):
        raise ValidationError("Нужно передать либо text, либо callback", field="text")
    client_message_id = body.get("client_message_id")
    if client_message_id is not None and (not isinstance(client_message_id, str)
                                          or not CLIENT_ID_RE.match(client_message_id)):
        raise ValidationError("client_message_id: 1–64 символа", field="client_message_id")
    if text is not None:
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("Текст сообщения не может быть пустым", field="text")
        if len(text) > max_length:
            raise PayloadTooLarge(f"Сообщение слишком длинное: не больше {max_length} символов. "
                                  "Пожалуйста, сократите его или разбейте на несколько.", field="text")
        return session_id, "text", text, client_message_id
    if not valid_callback_data(callback):  # the buttons' schema is the Telegram one (pipelines.buttons)
        raise ValidationError("callback: строка 1–64 символа латиницей", field="callback")
    return session_id, "callback", callback, client_message_id


async def post_message(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    # JSON escapes may triple a Cyrillic text's size: allow for it, then check the decoded length exactly.
    body = await read_json(request, max_bytes=settings.MAX_MESSAGE_LENGTH * 12 + 1024)
    session_id, kind, value, client_message_id = parse_post(body, settings.MAX_MESSAGE_LENGTH)
    recorded = await accept_site_event(request.app[keys.DB], request.app[keys.ENQUEUER],
                                       chat_inbound(session_id, kind, value, client_message_id))
    return json_response({"message_id": recorded.message_id}, status=202)


def _parse_get(request: web.Request) -> tuple[str, int, float]:
    session_id = validate_session_id(request.query.get("session_id"))
    try:
        after = int(request.query.get("after", "0") or 0)
        if after < 0:
            raise ValueError
    except ValueError:
        raise ValidationError("after: неотрицательное целое число", field="after") from None
    try:
        wait = float(request.query.get("wait", "0") or 0)
        if not 0 <= wait <= MAX_WAIT_SECONDS:
            raise ValueError
    except ValueError:
        raise ValidationError("wait: число секунд от 0 до 25", field="wait") from None
    return session_id, after, wait


async def get_messages(request: web.Request) -> web.Response:
    session_id, after, wait = _parse_get(request)
    deadline = time.monotonic() + wait
    notifier = request.app[keys.NOTIFIER]
    while True:
        found = await site_messages(request.app[keys.DB], session_id, after)
        # A long-poll returns as soon as there is something the visitor has not seen from the assistant/manager.
        fresh = [m for m in found if m["role"] != "client"] if wait else found
        remaining = deadline - time.monotonic()
        if fresh or remaining <= 0 or notifier.stopping:
            return json_response({"messages": found})
        await notifier.wait(session_id, min(remaining, RECHECK_SECONDS))
        await asyncio.sleep(0)


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/site/messages", post_message)
    app.router.add_get("/api/v1/site/messages", get_messages)
