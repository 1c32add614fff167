"""Brief buttons: product choice (``ProductChoice``), slot answers (``SlotAnswer``), «начать заново» (``Restart``)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import Buttons, PrivateChat
from pipelines.buttons import ProductChoice, Restart, SlotAnswer


async def on_brief_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="brief")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_brief_button, Buttons(ProductChoice, SlotAnswer, Restart))
    return r
