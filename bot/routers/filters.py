"""Who an update comes from: a client in a private chat, or the managers' chat."""

from __future__ import annotations

from typing import Any

from aiogram import types
from aiogram.filters import Filter

from pipelines.buttons import ButtonData, parse_callback


def _chat_of(event: Any) -> Any:
    if isinstance(event, types.CallbackQuery):
        return event.message.chat if event.message is not None else None
    return getattr(event, "chat", None)


class PrivateChat(Filter):
    async def __call__(self, event: types.TelegramObject) -> bool:
        chat = _chat_of(event)
        return chat is not None and chat.type == "private"


class ManagersChat(Filter):
    def __init__(self, chat_id: str) -> None:
        self.chat_id = chat_id.strip()

    async def __call__(self, event: types.TelegramObject) -> bool:
        chat = _chat_of(event)
        return bool(self.chat_id) and chat is not None and str(chat.id) == self.chat_id


class Buttons(Filter):
    """A button whose callback data is one of these ``pipelines.buttons`` factories (old formats included)."""

    def __init__(self, *factories: type[ButtonData]) -> None:
        self.factories = factories

    async def __call__(self, query: types.CallbackQuery) -> bool:
        return isinstance(parse_callback(query.data), self.factories)
