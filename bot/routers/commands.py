"""/start (with a deep link: ``site_<session_id>``, a source, a product), /help, /menu, /price, /manager, /cancel:
the dialog answers them; a command is never a brief answer (pipelines/commands.py)."""

from __future__ import annotations

from aiogram import Router, types
from aiogram.filters import Command, CommandStart

from bot.inbox import UpdateInbox
from bot.routers.filters import PrivateChat


async def on_start(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "command")


async def on_command(message: types.Message, event_update: types.Update, inbox: UpdateInbox) -> None:
    await inbox.client_message(event_update, message, "command")


def router() -> Router:
    r = Router(name="commands")
    r.message.filter(PrivateChat())
    r.message.register(on_start, CommandStart())
    r.message.register(on_command, Command("help", "menu", "price", "manager", "cancel"))
    return r
