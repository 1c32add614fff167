"""Consultation booking: «записаться» (``Book``), the offered slots (``SlotPick``, ``SlotOther``) and a booking's
«перенести»/«отменить» (``BookingChange``)."""

from __future__ import annotations

from aiogram import Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import Buttons, PrivateChat
from pipelines.buttons import Book, BookingChange, SlotOther, SlotPick


async def on_booking_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="booking")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_booking_button, Buttons(Book, SlotPick, SlotOther, BookingChange))
    return r
