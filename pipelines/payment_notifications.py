"""YooKassa notifications as they arrive: stored once per (payment, event) and queued for the check that confirms
them with ``GET /payments/{id}`` (the ``deals.payment_check`` actor) before anything changes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import utcnow
from db.models_deals import PaymentNotification
from pipelines.enqueuer import Enqueuer
from voronka.errors import ValidationError

CHECK_ACTOR = "deals.payment_check"
CHECK_QUEUE = "deals"
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


async def accept_notification(engine: AsyncEngine, enqueuer: Enqueuer, body: dict[str, Any],
                              remote_ip: str | None) -> tuple[str, bool]:
    """Store the notification (a redelivery is a no-op) and queue its check while it is unprocessed.
    Returns (event, whether it was new)."""
    event, payment_id = parse_notification(body)
    async with engine.begin() as conn:
        inserted = (await conn.execute(insert(notifications_t).values(
            provider_id=payment_id, event=event, payload=body, remote_ip=remote_ip, received_at=utcnow())
            .on_conflict_do_nothing(index_elements=["provider_id", "event"])
            .returning(notifications_t.c.id))).scalar()
        row = (await conn.execute(notifications_t.select().where(
            notifications_t.c.provider_id == payment_id, notifications_t.c.event == event))).one()
    if row.processed_at is None and event.startswith("payment."):
        await enqueuer.enqueue_async(CHECK_ACTOR, payment_id, int(row.id), queue=CHECK_QUEUE)
    return event, inserted is not None
