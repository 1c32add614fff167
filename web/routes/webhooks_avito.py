"""Avito Messenger webhook: ``POST /api/v1/webhooks/avito/messages/{AVITO_WEBHOOK_SECRET}``.

Avito signs nothing, so the secret is in the path: a wrong or missing one answers 404 and stores nothing. The body is
validated (400 with a JSON error when malformed); our own messages and ``system`` ones are acknowledged and skipped;
a client's message is persisted (deduplicated by the Avito message id) and committed before the 200, then queued.
No call to Avito happens here: the answer must come within ~2 s even under load.

At start-up (when Avito is configured) a background check warns in the log if the webhook subscription is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
from aiohttp import web
from loguru import logger
from redis.exceptions import RedisError

from integrations.avito import AvitoClient, parse_webhook
from pipelines.channels.avito import to_inbound
from pipelines.channels.receive import accept_inbound
from voronka.errors import PayloadTooLarge, UpstreamError, ValidationError
from voronka.settings import Settings
from web import keys
from web.jsonutil import json_response

PATH = "/api/v1/webhooks/avito/messages"
ACK = {"ok": True}


class BadWebhook(ValidationError):
    status = 400
    code = "invalid_webhook"


def webhook_url(settings: Settings) -> str:
    """The URL to subscribe at Avito (``VORONKA_PUBLIC_URL`` + path + secret)."""
    return f"{settings.public_url}{PATH}/{settings.AVITO_WEBHOOK_SECRET}"


def secret_ok(settings: Settings, given: str) -> bool:
    secret = settings.AVITO_WEBHOOK_SECRET
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


async def read_body(request: web.Request, max_bytes: int) -> Any:
    raw = await request.content.read(max_bytes + 1)
    if len(raw) > max_bytes:
        raise PayloadTooLarge("Слишком большое тело запроса", field=None)
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadWebhook("Тело запроса должно быть корректным JSON", field=None) from None


async def avito_messages(request: web.Request) -> web.Response:
    settings = request.app[keys.SETTINGS]
    if not secret_ok(settings, request.match_info.get("secret", "")):
        raise web.HTTPNotFound()
    body = await read_body(request, settings.MAX_MESSAGE_LENGTH * 12 + 64 * 1024)
    try:
        event = parse_webhook(body)
    except ValidationError as exc:
        raise BadWebhook(exc.message, field=exc.field) from None
    inbound = to_inbound(event) if event is not None else None
    if inbound is None:
        return json_response(ACK)
    await accept_inbound(request.app[keys.DB], request.app[keys.ENQUEUER], inbound,
                         max_length=settings.MAX_MESSAGE_LENGTH)
    return json_response(ACK)


async def check_subscription(settings: Settings, redis: Any) -> bool | None:
    """True when Avito sends our webhook URL; a warning in the log when it does not. None when not checked."""
    wanted = webhook_url(settings)
    async with aiohttp.ClientSession() as session:
        client = AvitoClient(settings, session=session, redis=redis)
        try:
            subscriptions = await client.list_subscriptions()
        except (UpstreamError, RedisError, OSError) as exc:
            logger.warning("avito webhook subscription not checked: {}", exc)
            return None
    if any(s.get("url") == wanted for s in subscriptions):
        logger.info("avito webhook subscription is active")
        return True
    logger.warning("avito webhook subscription is missing: Avito does not send messages to us. "
                   "Run `voronka avito subscribe` (uses VORONKA_PUBLIC_URL)")
    return False


def setup(app: web.Application) -> None:
    app.router.add_post(PATH + "/{secret}", avito_messages)

    async def startup_check(app: web.Application) -> AsyncIterator[None]:
        settings = app[keys.SETTINGS]
        task: asyncio.Task[bool | None] | None = None
        if settings.avito_configured and settings.AVITO_WEBHOOK_SECRET:
            task = asyncio.create_task(check_subscription(settings, app[keys.REDIS]))
        elif settings.avito_configured:
            logger.warning("AVITO_WEBHOOK_SECRET is not set: the Avito webhook answers 404 to everything")
        yield
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(startup_check)
