"""The Telegram webhook's feed: an update body parsed with aiogram and fed to the same Dispatcher and routers as
``voronka bot --polling``; their handlers persist it (unique ``u<update_id>``) and commit before the web answers."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.types import Update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.dispatcher import build_dispatcher
from bot.inbox import UpdateInbox
from integrations.telegram import make_bot
from pipelines.enqueuer import Enqueuer
from voronka.settings import Settings


class WebhookFeed:
    def __init__(self, bot: Bot, dispatcher: Dispatcher) -> None:
        self.bot = bot
        self.dispatcher = dispatcher

    async def feed(self, body: dict[str, Any]) -> None:
        """Parse and handle one update; ``pydantic.ValidationError`` when the body is not an update."""
        update = Update.model_validate(body, context={"bot": self.bot})
        await self.dispatcher.feed_update(self.bot, update)

    async def close(self) -> None:
        await self.bot.session.close()


def build_webhook_feed(settings: Settings, db: AsyncEngine, enqueuer: Enqueuer) -> WebhookFeed:
    bot = make_bot(settings.TELEGRAM_BOT_TOKEN, settings.TELEGRAM_API_URL)
    return WebhookFeed(bot, build_dispatcher(settings, UpdateInbox(settings, db, enqueuer)))
