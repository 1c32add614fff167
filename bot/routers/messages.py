"""Everything else a client sends in a private chat: text, voice, photo, document, video, a shared contact; and any
other button (the dialog answers unknown ones politely)."""

from __future__ import annotations

from aiogram import F, Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import PrivateChat


async def on_text(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "text")


async def on_voice(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "voice")


async def on_photo(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "image")


async def on_document(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "file")


async def on_video(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "video")


async def on_other_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def router() -> Router:
    r = Router(name="messages")
    r.message.filter(PrivateChat())
    r.callback_query.filter(PrivateChat())
    r.message.register(on_text, F.text | F.contact)
    r.message.register(on_voice, F.voice | F.audio)
    r.message.register(on_photo, F.photo)
    r.message.register(on_document, F.document)
    r.message.register(on_video, F.video | F.video_note)
    r.callback_query.register(on_other_button)
    return r
