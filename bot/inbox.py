"""Telegram updates → inbox rows. The only thing bot handlers do is call one of these methods.

A client's update becomes an ``Inbound`` (external id ``u<update_id>``: Telegram redelivers until we answer 2xx)
persisted through ``pipelines.channels.receive.accept_inbound`` — committed before the handler returns — and then
queued for the channel actor. An update from the managers' chat goes to ``accept_manager_update``.
"""

from __future__ import annotations

from typing import Any

from aiogram import types
from sqlalchemy.ext.asyncio import AsyncEngine

from pipelines.channels.receive import accept_inbound, accept_manager_update
from pipelines.enqueuer import Enqueuer
from pipelines.inbox import Inbound
from voronka.settings import Settings


def _button_label(message: Any, data: str) -> str | None:
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", None) or []:
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return None


def message_inbound(update_id: int, message: types.Message, kind: str) -> Inbound:
    """A client's message (text, command, voice, photo, document, contact) as an inbox row."""
    user = message.from_user
    chat_id = str(message.chat.id)
    text = message.text or message.caption or ""
    payload: dict[str, Any] = {"telegram_message_id": message.message_id}
    if user is not None and user.first_name:
        payload["first_name"] = user.first_name
    if message.contact is not None:  # «поделиться контактом»: the phone number is the text the dialog reads
        kind, text = "text", message.contact.phone_number
    media = message.voice or message.audio or message.document or message.video or message.video_note
    if media is not None:
        payload["file_id"] = media.file_id
    elif message.photo:
        payload["file_id"] = message.photo[-1].file_id
    return Inbound(channel="telegram", external_chat_id=chat_id,
                   external_user_id=str(user.id) if user is not None else chat_id,
                   external_id=f"u{update_id}", text=text, kind=kind, payload=payload)


def callback_inbound(update_id: int, query: types.CallbackQuery) -> Inbound:
    """A button press as an inbox row: payload {"callback", "label", "callback_query_id"}."""
    data = query.data or ""
    message = query.message
    chat_id = str(message.chat.id) if message is not None else str(query.from_user.id)
    label = _button_label(message, data) if message is not None else None
    return Inbound(channel="telegram", external_chat_id=chat_id, external_user_id=str(query.from_user.id),
                   external_id=f"u{update_id}", text=label or data, kind="callback",
                   payload={"callback": data, "label": label, "callback_query_id": query.id})


class UpdateInbox:
    def __init__(self, settings: Settings, engine: AsyncEngine, enqueuer: Enqueuer) -> None:
        self.settings = settings
        self.engine = engine
        self.enqueuer = enqueuer

    async def client_message(self, update: types.Update, message: types.Message, kind: str) -> None:
        await accept_inbound(self.engine, self.enqueuer, message_inbound(update.update_id, message, kind),
                             max_length=self.settings.MAX_MESSAGE_LENGTH)

    async def client_callback(self, update: types.Update, query: types.CallbackQuery) -> None:
        await accept_inbound(self.engine, self.enqueuer, callback_inbound(update.update_id, query),
                             max_length=self.settings.MAX_MESSAGE_LENGTH)

    async def manager_update(self, update: types.Update) -> None:
        """Store an update from the managers' chat (once per update_id), then queue it."""
        await accept_manager_update(self.engine, self.enqueuer, update_id=update.update_id,
                                    chat_id=self.settings.MANAGER_TELEGRAM_CHAT_ID,
                                    payload=update.model_dump(mode="json", exclude_none=True, by_alias=True))
