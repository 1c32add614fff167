"""Telegram webhook: ``POST /api/v1/webhooks/telegram`` (header ``X-Telegram-Bot-Api-Secret-Token``).

A missing or wrong secret answers 401 and stores nothing. The update is parsed with aiogram's
``Update.model_validate`` and fed to the same Dispatcher and routers as ``voronka bot --polling``; their handlers
persist it (unique ``u<update_id>``) and commit before we answer 200, then queue it.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator

import pydantic
from aiogram.types import Update
from aiohttp import web

from bot.dispatcher import build_dispatcher
from bot.inbox import UpdateInbox
from integrations.telegram import make_bot
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
        update = Update.model_validate(body, context={"bot": telegram.bot})
    except pydantic.ValidationError:
        raise BadWebhook("Тело запроса не похоже на обновление Telegram", field=None) from None
    await telegram.dispatcher.feed_update(telegram.bot, update)
    return json_response({"ok": True})


def setup(app: web.Application) -> None:
    app.router.add_post(PATH, telegram_update)

    async def telegram(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        if not settings.TELEGRAM_BOT_TOKEN:
            yield
            return
        bot = make_bot(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL)
        dp = build_dispatcher(settings, UpdateInbox(settings, app[keys.DB], app[keys.ENQUEUER]))
        app[keys.TELEGRAM] = keys.TelegramWebhook(bot, dp)
        yield
        await bot.session.close()

    app.cleanup_ctx.append(telegram)
