"""Package choice (``package:<code>``) and documents (``doc:<kind>``: КП, договор, счёт)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import CallbackPrefix, PrivateChat


async def on_package_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="packages")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_package_button, CallbackPrefix("package", "doc"))
    return r
