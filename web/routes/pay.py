"""Our payment links: GET /pay/<token> redirects to YooKassa's payment page while the link is valid
(PAYMENT_LINK_TTL_HOURS), otherwise shows «Ссылка устарела» and offers a new one (POST /pay/<token>/renew, which asks
the worker to issue the next link of the same invoice — at most MAX_PAYMENT_ATTEMPTS). GET /pay/done is where
YooKassa returns the client after paying.
"""

from __future__ import annotations

import html
from typing import Any

import sqlalchemy as sa
from aiohttp import web
from sqlalchemy.dialects.postgresql import insert

from db.models import Conversation, Outbox, Payment, utcnow
from pipelines.integrate.payments import pay_token, verify_pay_token
from web import keys
from workers.enqueue import enqueue

payments_t = Payment.__table__  # type: ignore[attr-defined]
outbox_t = Outbox.__table__  # type: ignore[attr-defined]
conversations_t = Conversation.__table__  # type: ignore[attr-defined]

PAGE = """<!doctype html>
<html lang="ru"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;color:#1d2433}}
h1{{font-size:1.5rem}}button,.btn{{background:#2d5bff;color:#fff;border:0;border-radius:.5rem;padding:.7rem 1.2rem;
font-size:1rem;text-decoration:none;display:inline-block;cursor:pointer}}p{{line-height:1.5}}</style></head>
<body><h1>{title}</h1>{body}</body></html>"""


def page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(title=html.escape(title), body=body), status=status,
                        content_type="text/html", headers={"Cache-Control": "no-store"})


def _p(text: str) -> str:
    return f"<p>{html.escape(text)}</p>"


async def _load(request: web.Request) -> tuple[Any, list[Any]]:
    settings = request.app[keys.SETTINGS]
    payment_id = verify_pay_token(request.match_info["token"], settings.link_key)
    if payment_id is None:
        raise web.HTTPNotFound()
    async with request.app[keys.DB].connect() as conn:
        payment = (await conn.execute(payments_t.select().where(payments_t.c.id == payment_id))).first()
        if payment is None:
            raise web.HTTPNotFound()
        siblings = (await conn.execute(payments_t.select().where(
            payments_t.c.lead_id == payment.lead_id, payments_t.c.package == payment.package,
            payments_t.c.amount == payment.amount).order_by(payments_t.c.attempt))).all()
    return payment, list(siblings)


def _valid(row: Any) -> bool:
    return bool(row.status == "pending" and row.confirmation_url and row.expires_at and row.expires_at > utcnow())


async def pay_link(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    payment, siblings = await _load(request)
    if any(s.status == "succeeded" for s in siblings):
        return page("Счёт оплачен", _p("Оплата по этому счёту уже получена — спасибо! Менеджер свяжется с вами, "
                                       "чтобы договориться о старте работ."))
    if _valid(payment):
        raise web.HTTPFound(payment.confirmation_url)
    newer = [s for s in siblings if s.attempt > payment.attempt and _valid(s)]
    if newer:
        link = f"/pay/{pay_token(newer[-1].id, settings.link_key)}"
        return page("Ссылка устарела", _p("Эта ссылка на оплату больше не действует, но для вас уже выпущена новая.")
                    + f'<p><a class="btn" href="{html.escape(link)}">Перейти к оплате</a></p>', status=410)
    issued = max((s.attempt for s in siblings), default=payment.attempt)
    if issued >= settings.MAX_PAYMENT_ATTEMPTS:
        return page("Ссылка устарела", _p(
            f"Срок действия ссылки истёк ({settings.PAYMENT_LINK_TTL_HOURS} ч). Ссылки на оплату этого счёта "
            f"выдавались уже {settings.MAX_PAYMENT_ATTEMPTS} раза, поэтому с оплатой поможет менеджер — он свяжется "
            "с вами в рабочее время. Оплатить можно и по реквизитам из счёта."), status=410)
    action = html.escape(f"/pay/{request.match_info['token']}/renew")
    return page("Ссылка устарела", _p(
        f"Ссылка на оплату действует {settings.PAYMENT_LINK_TTL_HOURS} ч, и этот срок истёк. Получите новую — "
        "она придёт в чат, где вы общались с нами.")
        + f'<form method="post" action="{action}"><button type="submit">Получить новую ссылку</button></form>',
        status=410)


async def renew(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    payment, siblings = await _load(request)
    if any(s.status == "succeeded" for s in siblings) or _valid(payment):
        raise web.HTTPSeeOther(f"/pay/{request.match_info['token']}")
    if max(s.attempt for s in siblings) >= settings.MAX_PAYMENT_ATTEMPTS:
        raise web.HTTPSeeOther(f"/pay/{request.match_info['token']}")
    async with request.app[keys.DB].begin() as conn:
        conversation = (await conn.execute(sa.select(conversations_t.c.id, conversations_t.c.channel).where(
            conversations_t.c.lead_id == payment.lead_id).order_by(conversations_t.c.updated_at.desc()))).first()
        outbox_id = (await conn.execute(insert(outbox_t).values(
            key=f"pay-renew-page:{payment.id}", lead_id=payment.lead_id,
            conversation_id=conversation.id if conversation else None,
            channel=conversation.channel if conversation else None, kind="action",
            payload={"action": "payment_renew", "data": {"payment_id": payment.id}}, status="pending", attempts=0,
            created_at=utcnow()).on_conflict_do_nothing(index_elements=["key"]).returning(outbox_t.c.id))).scalar()
    if outbox_id is not None:
        enqueue(request.app[keys.BROKER], "integrate.action", int(outbox_id), queue="integrate",
                lead_id=payment.lead_id)
    return page("Новая ссылка готовится", _p("Готово! Новая ссылка на оплату придёт в чат в течение минуты. "
                                             "Можно закрыть эту страницу."))


async def done(request: web.Request) -> web.StreamResponse:
    return page("Спасибо!", _p("Как только банк подтвердит оплату, мы напишем вам в чат. Обычно это занимает "
                               "не больше пары минут."))


def setup(app: web.Application) -> None:
    app.router.add_get("/pay/done", done)
    app.router.add_get("/pay/{token}", pay_link)
    app.router.add_post("/pay/{token}/renew", renew)
