"""The aiogram Dispatcher shared by the webhook receiver (web) and ``voronka bot --polling``."""

from __future__ import annotations

from aiogram import Dispatcher

from bot.inbox import UpdateInbox
from bot.routers import booking, brief, commands, manager, messages, packages, payment
from voronka.settings import Settings


def setup_routers(dp: Dispatcher, settings: Settings) -> None:
    """The managers' chat first (its updates never reach the client routers), then one router per feature."""
    if settings.MANAGER_TELEGRAM_CHAT_ID:
        dp.include_router(manager.managers_router(settings.MANAGER_TELEGRAM_CHAT_ID))
    dp.include_routers(commands.router(), brief.router(), packages.router(), booking.router(), payment.router(),
                       manager.client_router(), messages.router())


def build_dispatcher(settings: Settings, inbox: UpdateInbox) -> Dispatcher:
    dp = Dispatcher(inbox=inbox)
    setup_routers(dp, settings)
    return dp
