"""Payment buttons (``pay:<package>``)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import CallbackPrefix, PrivateChat


async def on_payment_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="payment")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_payment_button, CallbackPrefix("pay", "payment"))
    return r
