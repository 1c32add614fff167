"""Our payment links: GET /pay/<token> redirects to YooKassa's payment page while the link is valid
(PAYMENT_LINK_TTL_HOURS), otherwise shows «Ссылка устарела» and offers a new one (POST /pay/<token>/renew, which asks
the worker to issue the next link of the same invoice — at most MAX_PAYMENT_ATTEMPTS). GET /pay/done is where
YooKassa returns the client after paying.
"""

from __future__ import annotations

import html

from aiohttp import web

from pipelines.integrate.payments import pay_token, verify_pay_token
from pipelines.payment_links import PayLink, decide, load_link, request_new_link
from web import keys

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


async def _load(request: web.Request) -> PayLink:
    payment_id = verify_pay_token(request.match_info["token"], request.app[keys.SETTINGS].link_key)
    link = await load_link(request.app[keys.DB], payment_id) if payment_id is not None else None
    if link is None:
        raise web.HTTPNotFound()
    return link


async def pay_link(request: web.Request) -> web.StreamResponse:
    settings = request.app[keys.SETTINGS]
    decision = decide(await _load(request), max_attempts=settings.MAX_PAYMENT_ATTEMPTS)
    if decision.outcome == "paid":
        return page("Счёт оплачен", _p("Оплата по этому счёту уже получена — спасибо! Менеджер свяжется с вами, "
                                       "чтобы договориться о старте работ."))
    if decision.outcome == "pay" and decision.confirmation_url:
        raise web.HTTPFound(decision.confirmation_url)
    if decision.outcome == "newer" and decision.newer_payment_id is not None:
        link = f"/pay/{pay_token(decision.newer_payment_id, settings.link_key)}"
        return page("Ссылка устарела", _p("Эта ссылка на оплату больше не действует, но для вас уже выпущена новая.")
                    + f'<p><a class="btn" href="{html.escape(link)}">Перейти к оплате</a></p>', status=410)
    if decision.outcome == "exhausted":
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
    link = await _load(request)
    if not await request_new_link(request.app[keys.DB], request.app[keys.ENQUEUER], link,
                                  max_attempts=settings.MAX_PAYMENT_ATTEMPTS):
        raise web.HTTPSeeOther(f"/pay/{request.match_info['token']}")
    return page("Новая ссылка готовится", _p("Готово! Новая ссылка на оплату придёт в чат в течение минуты. "
                                             "Можно закрыть эту страницу."))


async def done(request: web.Request) -> web.StreamResponse:
    return page("Спасибо!", _p("Как только банк подтвердит оплату, мы напишем вам в чат. Обычно это занимает "
                               "не больше пары минут."))


def setup(app: web.Application) -> None:
    app.router.add_get("/pay/done", done)
    app.router.add_get("/pay/{token}", pay_link)
    app.router.add_post("/pay/{token}/renew", renew)
