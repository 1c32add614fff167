"""Consultation booking: «записаться» (``book``) and the offered slots (``book:<slot>``, ``slot_at:``...)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import CallbackPrefix, PrivateChat


async def on_booking_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="booking")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_booking_button, CallbackPrefix("book", "booking"))
    return r
