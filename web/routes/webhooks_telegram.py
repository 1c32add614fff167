"""Telegram webhook: ``POST /api/v1/webhooks/telegram`` (header ``X-Telegram-Bot-Api-Secret-Token``).

A missing or wrong secret answers 401 and stores nothing. The update goes to ``bot.webhook.WebhookFeed`` (aiogram's
Dispatcher and routers, as ``voronka bot --polling``), whose handlers persist it (unique ``u<update_id>``) and commit
before we answer 200, then queue it. aiogram is loaded only when a bot token is set.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator

import pydantic
from aiohttp import web

from voronka.errors import Unauthorized
from web import keys
from web.jsonutil import json_response
from web.routes.webhooks_avito import BadWebhook, read_body

PATH = "/api/v1/webhooks/telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


async def telegram_update(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    telegram = request.app.get(keys.TELEGRAM)
    if telegram is None:
        raise web.HTTPNotFound()
    secret, given = settings.TELEGRAM_WEBHOOK_SECRET, request.headers.get(SECRET_HEADER, "")
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("Неверный секрет вебхука Telegram")
    body = await read_body(request, settings.MAX_MESSAGE_LENGTH * 12 + 64 * 1024)
    try:
        await telegram.feed(body)
    except pydantic.ValidationError:
        raise BadWebhook("Тело запроса не похоже на обновление Telegram", field=None) from None
    return json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, telegram_update)

    async def telegram(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        if not settings.TELEGRAM_BOT_TOKEN:
            yield
            return
        from bot.webhook import build_webhook_feed  # reason: aiogram costs seconds and ~130 MB; only with a bot token

        feed = build_webhook_feed(settings, app[keys.DB], app[keys.ENQUEUER])
        app[keys.TELEGRAM] = feed
        yield
        await feed.close()

    app.cleanup_ctx.append(telegram)
