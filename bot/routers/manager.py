"""The managers' chat (``MANAGER_TELEGRAM_CHAT_ID``): «Взять диалог» / «Вернуть боту» and replies to the bot's
messages there go to the managers' actor; a client's «позвать менеджера» button (``human``) goes to the dialog."""

from __future__ import annotations

from aiogram import F, Router, types

from bot.inbox import UpdateInbox
from bot.routers.filters import Buttons, ManagersChat, PrivateChat
from pipelines.buttons import Human, ManagerAction


async def on_manager_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.manager_update(event_update)


async def on_manager_reply(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.manager_update(event_update)


async def on_human_button(query: types.CallbackQuery, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_callback(event_update, query)


def managers_router(chat_id: str) -> Router:
    r = Router(name="managers_chat")
    r.message.filter(ManagersChat(chat_id))
    r.callback_query.filter(ManagersChat(chat_id))
    r.callback_query.register(on_manager_button, Buttons(ManagerAction))
    r.message.register(on_manager_reply, F.reply_to_message.from_user.is_bot)
    return r


def client_router() -> Router:
    r = Router(name="manager_request")
    r.callback_query.filter(PrivateChat())
    r.callback_query.register(on_human_button, Buttons(Human))
    return r
