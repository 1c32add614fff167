"""Package choice (``PackageChoice``) and documents (``DocumentRequest``: КП, договор, счёт)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import Buttons, PrivateChat
from pipelines.buttons import DocumentRequest, PackageChoice


async def on_package_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="packages")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_package_button, Buttons(PackageChoice, DocumentRequest))
    return r
