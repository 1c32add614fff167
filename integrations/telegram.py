"""Telegram Bot API sending through aiogram 3's ``Bot``, with the contract's error handling.

- 429 (``TelegramRetryAfter``): wait ``retry_after`` with the injected ``sleep``, then try again (at most
  ``max_retries`` times; a wait longer than ``max_retry_after`` is left to the queue).
- 403 on a chat (blocked, kicked, deactivated): ``ChatBlocked`` — the caller marks the lead and stops sending.
- 5xx: retried with backoff; network errors and everything else become ``UpstreamError``.

The retrying is ``integrations.http.call_with_retries`` (tenacity) with a Telegram-specific predicate.

Texts longer than 4096 characters (UTF-16 units, as Telegram counts) are split on sentence boundaries; the
inline keyboard goes with the last part.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramConflictError,
    TelegramEntityTooLarge,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramRetryAfter,
    TelegramServerError,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup
from loguru import logger

from integrations.http import RetryPolicy, call_with_retries
from integrations.text_split import split_text, utf16_len
from voronka.errors import UpstreamError, ValidationError

SERVICE = "telegram"
TEXT_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64  # bytes
DOCUMENT_LIMIT = 50 * 1024 * 1024
REQUEST_TIMEOUT_SECONDS = 20.0
SECRET_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

ChatId = int | str
Buttons = Sequence[Sequence[tuple[str, str]]]
Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")


class ChatBlocked(UpstreamError):
    """The user blocked the bot (or the bot can no longer write to the chat): stop sending there."""

    def __init__(self, chat_id: ChatId, description: str = "") -> None:
        super().__init__("Telegram: пользователь заблокировал бота", service=SERVICE, retryable=False,
                         status_code=403)
        self.chat_id = chat_id
        self.description = description


def make_bot(token: str, api_url: str = "https://api.telegram.org", *,
             timeout: float = REQUEST_TIMEOUT_SECONDS) -> Bot:
    """An aiogram ``Bot`` talking to ``api_url`` (the real API or a local fake). Close with ``bot.session.close()``."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url), timeout=timeout)
    return Bot(token=token, session=session)


def inline_keyboard(buttons: Buttons) -> InlineKeyboardMarkup:
    """Rows of ``(text, callback_data)``; a second element starting with ``https://``/``http://`` is a URL button."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in buttons:
        out_row: list[InlineKeyboardButton] = []
        for text, action in row:
            if not text or not text.strip():
                raise ValidationError("У кнопки нет текста", field="buttons")
            if action.startswith(("https://", "http://")):
                out_row.append(InlineKeyboardButton(text=text, url=action))
                continue
            size = len(action.encode("utf-8"))
            if not 1 <= size <= CALLBACK_DATA_LIMIT:
                raise ValidationError(f"callback_data кнопки «{text}» должна быть от 1 до 64 байт",
                                      field="buttons")
            out_row.append(InlineKeyboardButton(text=text, callback_data=action))
        if out_row:
            rows.append(out_row)
    return InlineKeyboardMarkup(inline_keyboard=rows)


class TelegramSender:
    """Sends through an aiogram ``Bot`` with the retry and error rules above."""

    def __init__(self, bot: Bot, *, sleep: Sleep = asyncio.sleep, max_retries: int = 3,
                 max_retry_after: float = 60.0) -> None:
        self.bot = bot
        self._sleep = sleep
        self._policy = RetryPolicy(max_retries=max_retries, base_delay=1.0, max_retry_after=max_retry_after)

    async def _run(self, op: str, call: Callable[[], Awaitable[T]], *, chat_id: ChatId | None = None) -> T:
        async def attempt() -> T:
            try:
                return await call()
            except TelegramAPIError as exc:
                raise _upstream_error(op, exc, chat_id) from exc

        return await call_with_retries(attempt, what=f"telegram {op}", policy=self._policy, sleep=self._sleep,
                                       retry=_worth_retrying)

    # --- sending --------------------------------------------------------------------------------------
    async def send_text(self, chat_id: ChatId, text: str, buttons: Buttons | None = None, *,
                        parse_mode: str | None = None) -> list[int]:
        """Send ``text`` (split into ≤4096-character parts), buttons under the last part; the message ids."""
        parts = split_text(text, TEXT_LIMIT, measure=utf16_len)
        if not parts:
            raise ValidationError("Пустое сообщение не отправляется", field="text")
        markup = inline_keyboard(buttons) if buttons else None
        ids: list[int] = []
        for index, part in enumerate(parts):
            last = index == len(parts) - 1

            async def call(part: str = part, last: bool = last) -> Any:
                return await self.bot.send_message(chat_id=chat_id, text=part, parse_mode=parse_mode,
                                                   reply_markup=markup if last else None)

            message = await self._run("sendMessage", call, chat_id=chat_id)
            ids.append(message.message_id)
        return ids

    async def send_document(self, chat_id: ChatId, filename: str, data: bytes,
                            caption: str | None = None) -> int:
        """Send a file (PDF etc.); returns the message id."""
        if not data:
            raise ValidationError("Пустой файл не отправляется", field="data")
        if len(data) > DOCUMENT_LIMIT:
            raise ValidationError("Файл больше 50 МБ: Telegram его не примет", field="data")
        if caption is not None and utf16_len(caption) > CAPTION_LIMIT:
            raise ValidationError("Подпись к файлу длиннее 1024 символов", field="caption")
        document = BufferedInputFile(data, filename=filename)

        async def call() -> Any:
            return await self.bot.send_document(chat_id=chat_id, document=document, caption=caption)

        message = await self._run("sendDocument", call, chat_id=chat_id)
        return int(message.message_id)

    async def send_typing(self, chat_id: ChatId) -> None:
        await self._run("sendChatAction", lambda: self.bot.send_chat_action(chat_id=chat_id, action="typing"),
                        chat_id=chat_id)

    async def answer_callback(self, callback_query_id: str, text: str | None = None, *,
                              show_alert: bool = False) -> None:
        await self._run("answerCallbackQuery", lambda: self.bot.answer_callback_query(
            callback_query_id=callback_query_id, text=text, show_alert=show_alert or None))

    async def edit_buttons(self, chat_id: ChatId, message_id: int, buttons: Buttons | None = None) -> None:
        """Replace (or with ``None`` remove) the inline keyboard of a sent message."""
        markup = inline_keyboard(buttons) if buttons else None

        async def call() -> Any:
            return await self.bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                                            reply_markup=markup)

        try:
            await self._run("editMessageReplyMarkup", call, chat_id=chat_id)
        except UpstreamError as exc:
            if exc.status_code == 400 and "message is not modified" in exc.message:
                return  # already in the wanted state (e.g. a double click)
            raise

    # --- webhook (CLI) --------------------------------------------------------------------------------
    async def set_webhook(self, url: str, secret: str, *, allowed_updates: Sequence[str] | None = None,
                          drop_pending_updates: bool = False) -> bool:
        if not url.startswith("https://"):
            raise ValidationError("Адрес вебхука Telegram должен начинаться с https://", field="url")
        if not SECRET_TOKEN_RE.match(secret):
            raise ValidationError("Секрет вебхука: 1–256 символов из A-Z, a-z, 0-9, _ и -", field="secret")
        updates = list(allowed_updates) if allowed_updates is not None else ["message", "callback_query"]
        return bool(await self._run("setWebhook", lambda: self.bot.set_webhook(
            url=url, secret_token=secret, allowed_updates=updates,
            drop_pending_updates=drop_pending_updates or None)))

    async def delete_webhook(self, *, drop_pending_updates: bool = False) -> bool:
        return bool(await self._run("deleteWebhook", lambda: self.bot.delete_webhook(
            drop_pending_updates=drop_pending_updates or None)))

    async def webhook_info(self) -> dict[str, Any]:
        info = await self._run("getWebhookInfo", self.bot.get_webhook_info)
        return info.model_dump(exclude_none=True)

    async def get_me(self) -> dict[str, Any]:
        me = await self._run("getMe", self.bot.get_me)
        return me.model_dump(exclude_none=True)


def _worth_retrying(exc: BaseException) -> bool:
    """Only a 429 (after its ``retry_after``) and a 5xx are sent again: after a network error the message
    may have been delivered, and a repeat could duplicate it."""
    return isinstance(exc, UpstreamError) and isinstance(exc.__cause__, TelegramRetryAfter | TelegramServerError)


def _upstream_error(op: str, exc: TelegramAPIError, chat_id: ChatId | None) -> UpstreamError:
    """The ``UpstreamError`` for an aiogram error (``ChatBlocked`` for a 403 on a chat)."""
    if isinstance(exc, TelegramRetryAfter):
        return UpstreamError(f"Telegram: слишком много запросов, повтор через {exc.retry_after} с",
                             service=SERVICE, retryable=True, status_code=429, retry_after=float(exc.retry_after))
    if isinstance(exc, TelegramForbiddenError):
        if chat_id is not None:
            logger.info("telegram {}: chat is closed for the bot (403)", op)
            return ChatBlocked(chat_id, exc.message)
        return UpstreamError(f"Telegram: {exc.message}", service=SERVICE, retryable=False, status_code=403)
    if isinstance(exc, TelegramServerError):
        return UpstreamError(f"Telegram: {exc.message}", service=SERVICE, retryable=True, status_code=500)
    if isinstance(exc, TelegramEntityTooLarge):
        return UpstreamError("Telegram: файл слишком большой", service=SERVICE, retryable=False, status_code=413)
    if isinstance(exc, TelegramNetworkError):
        logger.warning("telegram {}: network error", op)
        return UpstreamError(f"Telegram: сеть недоступна ({exc.message})", service=SERVICE, retryable=True)
    status = _status_of(exc)
    logger.warning("telegram {} rejected: HTTP {}", op, status)
    return UpstreamError(f"Telegram: {exc.message}", service=SERVICE, retryable=False, status_code=status)


def _status_of(exc: TelegramAPIError) -> int | None:
    for kind, status in (
        (TelegramBadRequest, 400),
        (TelegramUnauthorizedError, 401),
        (TelegramNotFound, 404),
        (TelegramConflictError, 409),
        (TelegramMigrateToChat, 400),
    ):
        if isinstance(exc, kind):
            return status
    return None
