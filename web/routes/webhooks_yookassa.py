"""POST /api/v1/webhooks/yookassa — YooKassa notifications.

Notifications are not signed, so: only YooKassa's networks are accepted (YOOKASSA_ALLOWED_IPS; X-Forwarded-For is
believed only from TRUSTED_PROXIES), others get 403; the body is stored (unique per payment and event, so a
redelivery is a no-op) and a job confirms it with ``GET /payments/{id}`` before anything changes. The answer is a
fast 200 — YooKassa redelivers for 24 h otherwise.
"""

from __future__ import annotations

import json

from aiohttp import web
from loguru import logger

from integrations.yookassa import is_yookassa_address
from pipelines.payment_notifications import accept_notification
from voronka.errors import Forbidden, PayloadTooLarge, ValidationError
from web import keys
from web.jsonutil import json_response

MAX_BODY = 256 * 1024


async def yookassa_notification(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    raw = await request.content.read(MAX_BODY + 1)  # read first: an unread body keeps the connection busy
    if not is_yookassa_address(request.remote, request.headers.get("X-Forwarded-For"),
                               allowed=settings.YOOKASSA_ALLOWED_IPS, trusted_proxies=settings.TRUSTED_PROXIES):
        logger.warning("YooKassa notification refused: sender is not in YOOKASSA_ALLOWED_IPS")
        raise Forbidden("Уведомления принимаются только с адресов ЮKassa")
    if len(raw) > MAX_BODY:
        raise PayloadTooLarge("Слишком большое уведомление")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValidationError("Тело запроса должно быть корректным JSON", code="invalid_json") from None
    if not isinstance(body, dict):
        raise ValidationError("Ожидается JSON-объект", code="invalid_json")
    event, new = await accept_notification(request.app[keys.DB], request.app[keys.ENQUEUER], body, request.remote)
    logger.info("YooKassa notification {} stored (new={})", event, new)
    return json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/webhooks/yookassa", yookassa_notification)
