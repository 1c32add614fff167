"""Our payment links (``/pay/<token>``): what a click on one should lead to, and asking for the next link of the same
invoice (at most ``MAX_PAYMENT_ATTEMPTS``) — the worker issues it and sends it to the client's chat.

``web.routes.pay`` only verifies the token, calls these and renders the page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from db.models import Conversation, Outbox, Payment, utcnow
from pipelines.enqueuer import Enqueuer

ACTION_ACTOR = "integrate.action"
ACTION_QUEUE = "integrate"
payments_t = Payment.__table__  # type: ignore[attr-defined]
outbox_t = Outbox.__table__  # type: ignore[attr-defined]
conversations_t = Conversation.__table__  # type: ignore[attr-defined]

Outcome = Literal["paid", "pay", "newer", "exhausted", "expired"]


@dataclass(frozen=True)
class PayLink:
    payment: Any  # the payments row the link names
    siblings: list[Any]  # every attempt of the same invoice (lead, package, amount), by attempt

    @property
    def paid(self) -> bool:
        return any(s.status == "succeeded" for s in self.siblings)

    @property
    def issued(self) -> int:
        return max((s.attempt for s in self.siblings), default=self.payment.attempt)


@dataclass(frozen=True)
class LinkDecision:
    outcome: Outcome
    confirmation_url: str | None = None  # "pay": YooKassa's payment page
    newer_payment_id: int | None = None  # "newer": the link already issued after this one


def valid(row: Any, now: datetime | None = None) -> bool:
    return bool(row.status == "pending" and row.confirmation_url and row.expires_at
                and row.expires_at > (now or utcnow()))


async def load_link(engine: AsyncEngine, payment_id: int) -> PayLink | None:
    async with engine.connect() as conn:
        payment = (await conn.execute(payments_t.select().where(payments_t.c.id == payment_id))).first()
        if payment is None:
            return None
        siblings = (await conn.execute(payments_t.select().where(
            payments_t.c.lead_id == payment.lead_id, payments_t.c.package == payment.package,
            payments_t.c.amount == payment.amount).order_by(payments_t.c.attempt))).all()
    return PayLink(payment, list(siblings))


def decide(link: PayLink, *, max_attempts: int) -> LinkDecision:
    """Paid already; still payable (go to YooKassa); a newer link exists; no more links; expired (a new one may be
    asked for)."""
    if link.paid:
        return LinkDecision("paid")
    if valid(link.payment):
        return LinkDecision("pay", confirmation_url=str(link.payment.confirmation_url))
    newer = [s for s in link.siblings if s.attempt > link.payment.attempt and valid(s)]
    if newer:
        return LinkDecision("newer", newer_payment_id=int(newer[-1].id))
    if link.issued >= max_attempts:
        return LinkDecision("exhausted")
    return LinkDecision("expired")


async def request_new_link(engine: AsyncEngine, enqueuer: Enqueuer, link: PayLink, *, max_attempts: int) -> bool:
    """Queue the next link of the invoice (once per expired link). False when none may be issued: the invoice is
    paid, the link still works or the attempts are used up."""
    payment = link.payment
    if link.paid or valid(payment) or link.issued >= max_attempts:
        return False
    async with engine.begin() as conn:
        conversation = (await conn.execute(sa.select(conversations_t.c.id, conversations_t.c.channel).where(
            conversations_t.c.lead_id == payment.lead_id).order_by(conversations_t.c.updated_at.desc()))).first()
        outbox_id = (await conn.execute(insert(outbox_t).values(
            key=f"pay-renew-page:{payment.id}", lead_id=payment.lead_id,
            conversation_id=conversation.id if conversation else None,
            channel=conversation.channel if conversation else None, kind="action",
            payload={"action": "payment_renew", "data": {"payment_id": payment.id}}, status="pending", attempts=0,
            created_at=utcnow()).on_conflict_do_nothing(index_elements=["key"]).returning(outbox_t.c.id))).scalar()
    if outbox_id is not None:
        await enqueuer.enqueue_async(ACTION_ACTOR, int(outbox_id), queue=ACTION_QUEUE, lead_id=payment.lead_id)
    return True
