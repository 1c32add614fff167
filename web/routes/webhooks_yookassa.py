"""POST /api/v1/webhooks/yookassa — YooKassa notifications.

Notifications are not signed, so: only YooKassa's networks are accepted (YOOKASSA_ALLOWED_IPS; X-Forwarded-For is
believed only from TRUSTED_PROXIES), others get 403; the body is stored (unique per payment and event, so a
redelivery is a no-op) and a job confirms it with ``GET /payments/{id}`` before anything changes. The answer is a
fast 200 — YooKassa redelivers for 24 h otherwise.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from loguru import logger
from sqlalchemy.dialects.postgresql import insert

from db.models import utcnow
from db.models_deals import PaymentNotification
from integrations.yookassa import is_yookassa_address
from voronka.errors import Forbidden, PayloadTooLarge, ValidationError
from web import keys
from web.jsonutil import json_response
from workers.enqueue import enqueue

MAX_BODY = 256 * 1024
notifications_t = PaymentNotification.__table__  # type: ignore[attr-defined]


def parse_notification(body: dict[str, Any]) -> tuple[str, str]:
    """(event, payment id) of a notification body; ``ValidationError`` for anything else."""
    event, obj = body.get("event"), body.get("object")
    if body.get("type") != "notification" or not isinstance(event, str) or not isinstance(obj, dict):
        raise ValidationError("Ожидается уведомление ЮKassa", field="type")
    payment_id = obj.get("payment_id") if event.startswith("refund.") else obj.get("id")
    if not isinstance(payment_id, str) or not 1 <= len(payment_id) <= 64:
        raise ValidationError("В уведомлении нет идентификатора платежа", field="object.id")
    return event[:64], payment_id


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
    event, payment_id = parse_notification(body)
    async with request.app[keys.DB].begin() as conn:
        inserted = (await conn.execute(insert(notifications_t).values(
            provider_id=payment_id, event=event, payload=body, remote_ip=request.remote, received_at=utcnow())
            .on_conflict_do_nothing(index_elements=["provider_id", "event"])
            .returning(notifications_t.c.id))).scalar()
        row = (await conn.execute(notifications_t.select().where(
            notifications_t.c.provider_id == payment_id, notifications_t.c.event == event))).one()
    if row.processed_at is None and event.startswith("payment."):
        enqueue(request.app[keys.BROKER], "deals.payment_check", payment_id, int(row.id), queue="deals")
    logger.info("YooKassa notification {} stored (new={})", event, inserted is not None)
    return json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post("/api/v1/webhooks/yookassa", yookassa_notification)
