"""Payment buttons: pay for a package (``PayPackage``), a new link for an expired one (``PaymentRenew``)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import Buttons, PrivateChat
from pipelines.buttons import PaymentRenew, PayPackage


async def on_payment_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="payment")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_payment_button, Buttons(PayPackage, PaymentRenew))
    return r
