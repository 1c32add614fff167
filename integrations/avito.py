"""Avito API client: OAuth token shared through Redis, Messenger API, Items API, webhook payload parsing.

Paths and shapes follow /work/shared/contracts/avito.md. Everything is explicit: the aiohttp session,
the Redis client and the ``sleep`` used between retries are passed in, so tests point the client at a fake.

Retries (through ``integrations.http.request_with_retries``): 429, 5xx and connection failures are retried
up to ``max_retries`` times, waiting ``Retry-After`` when the answer has it, else 1 s, 2 s, 4 s (+-20 %
jitter). A 401/403 forces one token refresh and one more try. Other 4xx answers raise
``UpstreamError(retryable=False)`` with the message from Avito's error body.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aioredis
from loguru import logger
from redis.exceptions import LockError
from tenacity import wait_exponential, wait_random_exponential
from tenacity.wait import wait_base

from integrations.http import RETRYABLE_STATUSES, HttpResponse, RetryPolicy, request_with_retries
from integrations.text_split import split_text
from voronka.errors import NotConfigured, UpstreamError, ValidationError
from voronka.settings import Settings

SERVICE = "avito"
TEXT_LIMIT = 1000  # characters in one Messenger text message
REFRESH_MARGIN_SECONDS = 3600  # refresh a token with less than this much life left
MAX_RETRY_AFTER_SECONDS = 60.0  # a longer Retry-After is handed to the queue instead of waited out here
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5, sock_read=15)
MESSAGE_TYPES = frozenset({
    "text", "image", "link", "item", "location", "call", "voice", "file", "video", "appCall", "system",
    "deleted",
})

Sleep = Callable[[float], Awaitable[None]]


@dataclass(frozen=True)
class AvitoConfig:
    api_url: str
    client_id: str
    client_secret: str
    user_id: str
    max_retries: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> AvitoConfig:
        return cls(
            api_url=settings.AVITO_API_URL,
            client_id=settings.AVITO_CLIENT_ID,
            client_secret=settings.AVITO_CLIENT_SECRET,
            user_id=settings.AVITO_USER_ID,
            max_retries=settings.MAX_RETRIES,
        )


@dataclass(frozen=True)
class AvitoRetryPolicy(RetryPolicy):
    """The contract's backoff: 1 s, 2 s, 4 s (doubling, capped at ``max_delay``), each +-20 % jitter."""

    base_delay: float = 1.0

    def backoff(self) -> wait_base:
        # min(max_delay, base_delay * 2**n) * uniform(0.8, 1.2), as 80 % fixed plus up to 40 % random
        return (wait_exponential(multiplier=0.8 * self.base_delay, max=0.8 * self.max_delay)
                + wait_random_exponential(multiplier=0.4 * self.base_delay, max=0.4 * self.max_delay))


def error_message(body: Any, status: int) -> str:
    """The human part of an error body: ``{"error": {"code", "message"}}`` or OAuth's ``{"error": "..."}``."""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            message = err.get("message")
            code = err.get("code")
            if message:
                return f"{message} (код {code})" if code is not None else str(message)
        elif isinstance(err, str) and err:
            description = body.get("error_description") or body.get("message")
            return f"{err}: {description}" if description else err
        result = body.get("result")
        if isinstance(result, dict) and result.get("message"):
            return str(result["message"])
        if body.get("message"):
            return str(body["message"])
    return f"HTTP {status}"


def _classify(response: HttpResponse) -> UpstreamError:
    status = response.status
    return UpstreamError(
        f"Avito: {error_message(response.json_or_none(), status)}",
        service=SERVICE,
        retryable=status in RETRYABLE_STATUSES or status >= 500,
        status_code=status,
        retry_after=response.retry_after,
    )


class AvitoClient:
    """One Avito account. Safe to use from many coroutines and processes at once (the token is in Redis)."""

    def __init__(
        self,
        settings_or_params: Settings | AvitoConfig,
        *,
        session: aiohttp.ClientSession,
        redis: aioredis.Redis,
        sleep: Sleep = asyncio.sleep,
        key_prefix: str = "voronka:avito",
        timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
        lock_timeout: float = 30.0,
    ) -> None:
        if isinstance(settings_or_params, Settings):
            settings_or_params = AvitoConfig.from_settings(settings_or_params)
        self.config = settings_or_params
        self._base = self.config.api_url.rstrip("/")
        self._session = session
        self._redis = redis
        self._sleep = sleep
        self._policy = AvitoRetryPolicy(max_retries=self.config.max_retries,
                                        max_retry_after=MAX_RETRY_AFTER_SECONDS)
        self._timeout = timeout
        self._lock_timeout = lock_timeout
        self.token_key = f"{key_prefix}:token"
        self._lock_key = f"{key_prefix}:token:lock"

    @property
    def configured(self) -> bool:
        return bool(self.config.client_id and self.config.client_secret and self.config.user_id)

    def _require_config(self) -> None:
        if not self.configured:
            raise NotConfigured(
                "Avito не настроен: нужны AVITO_CLIENT_ID, AVITO_CLIENT_SECRET и AVITO_USER_ID")

    # ----------------------------------------------------------------------------------------------
    # token
    # ----------------------------------------------------------------------------------------------
    async def _cached(self) -> tuple[str | None, float, float]:
        """(token, seconds left, lifetime) from Redis; ``(None, 0, 0)`` when there is none."""
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(self.token_key)
            pipe.pttl(self.token_key)
            raw, pttl = await pipe.execute()
        if raw is None or pttl is None or pttl <= 0:
            return None, 0.0, 0.0
        if isinstance(raw, bytes):
            raw = raw.decode()
        try:
            stored = json.loads(raw)
            token = str(stored["access_token"])
            lifetime = float(stored["expires_in"])
        except (ValueError, KeyError, TypeError):
            return None, 0.0, 0.0
        return token, pttl / 1000.0, lifetime

    @staticmethod
    def _margin(lifetime: float) -> float:
        """Refresh margin: one hour, or a quarter of the lifetime for tokens shorter-lived than four hours."""
        return min(REFRESH_MARGIN_SECONDS, lifetime / 4)

    async def get_token(self) -> str:
        """The shared access token; obtained (once for all processes) when missing or close to expiry."""
        token, left, lifetime = await self._cached()
        if token is not None and left > self._margin(lifetime):
            return token
        return await self.refresh_token()

    async def seconds_until_refresh(self) -> float:
        """Seconds until the cached token enters its refresh window (0 when missing or already there)."""
        token, left, lifetime = await self._cached()
        if token is None:
            return 0.0
        return max(0.0, left - self._margin(lifetime))

    async def refresh_token(self, force: bool = False, *, rejected: str | None = None) -> str:
        """Get a new token under a Redis lock so that racing processes make a single ``/token`` call.

        Without ``force`` a cached token with more than the margin left is returned as is. With ``force``
        the cached token is replaced — unless it is no longer ``rejected`` (the one Avito just refused),
        which means another process already refreshed it while we waited for the lock.
        """
        self._require_config()
        lock = self._redis.lock(self._lock_key, timeout=self._lock_timeout, sleep=0.05,
                                blocking_timeout=self._lock_timeout)
        try:
            acquired = await lock.acquire()
        except LockError as exc:
            raise UpstreamError("Avito: не удалось дождаться обновления токена", service=SERVICE,
                                retryable=True) from exc
        if not acquired:
            raise UpstreamError("Avito: не удалось дождаться обновления токена", service=SERVICE,
                                retryable=True)
        try:
            token, left, lifetime = await self._cached()
            if token is not None:
                if not force and left > self._margin(lifetime):
                    return token
                if force and rejected is not None and token != rejected:
                    return token
            return await self._fetch_token()
        finally:
            try:
                await lock.release()
            except LockError:
                logger.warning("avito token lock expired before release (token request took > {}s)",
                               self._lock_timeout)

    async def _fetch_token(self) -> str:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
        }
        response = await self._send("POST", "/token", op="token", data=form, authorize=False)
        body = response.json_or_none()
        if not isinstance(body, dict) or not body.get("access_token"):
            raise UpstreamError("Avito: ответ /token без access_token", service=SERVICE, retryable=True,
                                status_code=response.status)
        token = str(body["access_token"])
        expires_in = int(body.get("expires_in") or 86400)
        stored = json.dumps({"access_token": token, "expires_in": expires_in, "obtained_at": time.time()})
        await self._redis.set(self.token_key, stored, px=max(1, expires_in * 1000))
        logger.info("avito token refreshed, expires in {}s", expires_in)
        return token

    # ----------------------------------------------------------------------------------------------
    # transport
    # ----------------------------------------------------------------------------------------------
    async def _send(
        self,
        method: str,
        path: str,
        *,
        op: str,
        json_body: Any = None,
        data: Any = None,
        query: Sequence[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
        authorize: bool = True,
        retry: bool = True,
    ) -> HttpResponse:
        """One logical call: 429/5xx retried by ``request_with_retries``; 401/403 refreshes the token once."""
        url = self._base + path
        if query:
            url += "?" + urlencode(list(query))
        policy = self._policy if retry else replace(self._policy, max_retries=0)
        auth_retried = False
        while True:
            request_headers = {"Accept": "application/json", **(headers or {})}
            token: str | None = None
            if authorize:
                token = await self.get_token()
                request_headers["Authorization"] = f"Bearer {token}"
            try:
                return await request_with_retries(
                    self._session, method, url, service=SERVICE, classify=_classify, policy=policy,
                    sleep=self._sleep, timeout=self._timeout, headers=request_headers,
                    json_body=json_body, data=data,
                )
            except UpstreamError as exc:
                if not (authorize and exc.status_code in (401, 403) and not auth_retried):
                    raise
                logger.info("avito {}: HTTP {} — refreshing the token and trying once more", op,
                            exc.status_code)
                auth_retried = True
                await self.refresh_token(force=True, rejected=token)

    async def _call(self, method: str, path: str, *, op: str, **kwargs: Any) -> Any:
        self._require_config()
        response = await self._send(method, path, op=op, **kwargs)
        return response.json_or_none()

    @property
    def _account(self) -> str:
        return f"/messenger/v1/accounts/{self.config.user_id}"

    # ----------------------------------------------------------------------------------------------
    # Messenger
    # ----------------------------------------------------------------------------------------------
    async def send_text(self, chat_id: str, text: str) -> list[dict[str, Any]]:
        """Send ``text``, split into parts of at most 1000 characters on sentence boundaries, in order."""
        parts = split_text(text, TEXT_LIMIT)
        if not parts:
            raise ValidationError("Пустое сообщение не отправляется", field="text")
        sent: list[dict[str, Any]] = []
        for part in parts:
            body = {"message": {"text": part}, "type": "text"}
            answer = await self._call("POST", f"{self._account}/chats/{chat_id}/messages", op="send_text",
                                      json_body=body)
            sent.append(answer if isinstance(answer, dict) else {})
        return sent

    async def mark_read(self, chat_id: str) -> None:
        await self._call("POST", f"{self._account}/chats/{chat_id}/read", op="mark_read")

    async def get_chat(self, chat_id: str) -> dict[str, Any]:
        """A chat with ``context.value`` = its listing (``id``, ``title``, ``url``, ...) and ``users``."""
        answer = await self._call("GET", f"/messenger/v2/accounts/{self.config.user_id}/chats/{chat_id}",
                                  op="get_chat")
        return answer if isinstance(answer, dict) else {}

    async def list_chats(
        self,
        *,
        item_ids: Iterable[int | str] | None = None,
        unread_only: bool = False,
        chat_types: Iterable[str] = ("u2i", "u2u"),
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        if not 1 <= limit <= 100:
            raise ValidationError("limit: от 1 до 100", field="limit")
        params: list[tuple[str, str]] = [
            ("unread_only", "true" if unread_only else "false"),
            ("chat_types", ",".join(chat_types)),
            ("limit", str(limit)),
            ("offset", str(offset)),
        ]
        if item_ids:
            params.append(("item_ids", ",".join(str(i) for i in item_ids)))
        answer = await self._call("GET", f"/messenger/v2/accounts/{self.config.user_id}/chats",
                                  op="list_chats", query=params)
        chats = answer.get("chats") if isinstance(answer, dict) else None
        return list(chats or [])

    async def get_messages(self, chat_id: str, limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        if not 1 <= limit <= 100:
            raise ValidationError("limit: от 1 до 100", field="limit")
        answer = await self._call(
            "GET", f"/messenger/v3/accounts/{self.config.user_id}/chats/{chat_id}/messages/",
            op="get_messages",
            query=[("limit", str(limit)), ("offset", str(offset))],
        )
        if isinstance(answer, dict):
            answer = answer.get("messages")
        return list(answer or [])

    async def get_voice_urls(self, voice_ids: Sequence[str]) -> dict[str, str]:
        if not voice_ids:
            return {}
        answer = await self._call("GET", f"{self._account}/getVoiceFiles", op="get_voice_urls",
                                  query=[("voice_ids", str(v)) for v in voice_ids])
        urls = answer.get("voices_urls") if isinstance(answer, dict) else None
        return {str(k): str(v) for k, v in (urls or {}).items()}

    async def upload_image(self, data: bytes, *, filename: str = "image.jpg",
                           content_type: str = "image/jpeg") -> str:
        """Upload an image for ``send_image``; returns its ``image_id``."""
        body, content_type_header = _multipart("uploadfile[]", data, filename, content_type)
        answer = await self._call("POST", f"{self._account}/uploadImages", op="upload_image", data=body,
                                  headers={"Content-Type": content_type_header})
        if not isinstance(answer, dict) or not answer:
            raise UpstreamError("Avito: пустой ответ на загрузку изображения", service=SERVICE,
                                retryable=False)
        return str(next(iter(answer)))

    async def send_image(self, chat_id: str, image_id: str) -> dict[str, Any]:
        answer = await self._call("POST", f"{self._account}/chats/{chat_id}/messages/image", op="send_image",
                                  json_body={"image_id": image_id})
        return answer if isinstance(answer, dict) else {}

    async def delete_message(self, chat_id: str, message_id: str) -> None:
        await self._call("POST", f"{self._account}/chats/{chat_id}/messages/{message_id}",
                         op="delete_message")

    async def blacklist(self, user_id: int | str, item_id: int | str | None = None) -> None:
        entry: dict[str, Any] = {"user_id": int(user_id)}
        if item_id is not None:
            entry["context"] = {"item_id": int(item_id)}
        await self._call("POST", f"/messenger/v2/accounts/{self.config.user_id}/blacklist", op="blacklist",
                         json_body={"users": [entry]})

    async def subscribe_webhook(self, url: str) -> None:
        await self._call("POST", "/messenger/v3/webhook", op="subscribe_webhook", json_body={"url": url})

    async def unsubscribe_webhook(self, url: str) -> None:
        await self._call("POST", "/messenger/v1/webhook/unsubscribe", op="unsubscribe_webhook",
                         json_body={"url": url})

    async def list_subscriptions(self) -> list[dict[str, Any]]:
        answer = await self._call("POST", "/messenger/v1/subscriptions", op="list_subscriptions")
        subs = answer.get("subscriptions") if isinstance(answer, dict) else None
        return list(subs or [])

    # ----------------------------------------------------------------------------------------------
    # Items
    # ----------------------------------------------------------------------------------------------
    async def list_items(self, page: int = 1, per_page: int = 25,
                         status: str = "active") -> list[dict[str, Any]]:
        query = [("page", str(page)), ("per_page", str(per_page)), ("status", status)]
        answer = await self._call("GET", "/core/v1/items", op="list_items", query=query)
        resources = answer.get("resources") if isinstance(answer, dict) else None
        return list(resources or [])

    async def get_item(self, item_id: int | str) -> dict[str, Any]:
        answer = await self._call("GET", f"/core/v1/accounts/{self.config.user_id}/items/{item_id}/",
                                  op="get_item")
        return answer if isinstance(answer, dict) else {}

    async def item_stats(
        self,
        item_ids: Sequence[int | str],
        date_from: date | str,
        date_to: date | str,
        fields: Sequence[str] = ("uniqViews", "uniqContacts", "uniqFavorites"),
    ) -> dict[str, Any]:
        body = {
            "dateFrom": date_from.isoformat() if isinstance(date_from, date) else date_from,
            "dateTo": date_to.isoformat() if isinstance(date_to, date) else date_to,
            "itemIds": [int(i) for i in item_ids],
            "fields": list(fields),
        }
        answer = await self._call("POST", f"/stats/v1/accounts/{self.config.user_id}/items", op="item_stats",
                                  json_body=body)
        return answer if isinstance(answer, dict) else {}

    async def update_price(self, item_id: int | str, price: int) -> dict[str, Any]:
        """Change a listing's price (roubles). Not retried: an error goes to the admin as Avito worded it."""
        if price <= 0:
            raise ValidationError("Цена должна быть больше нуля", field="price")
        answer = await self._call("POST", f"/core/v1/items/{item_id}/update_price", op="update_price",
                                  json_body={"price": int(price)}, retry=False)
        return answer if isinstance(answer, dict) else {}


def _multipart(name: str, data: bytes, filename: str, content_type: str) -> tuple[bytes, str]:
    """A one-file multipart body as bytes (unlike ``aiohttp.FormData`` it can be sent again on a retry)."""
    boundary = secrets.token_hex(16)
    safe_name = filename.replace('"', "").replace("\r", "").replace("\n", "") or "file"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{safe_name}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n").encode()
    return head + data + f"\r\n--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


# ----------------------------------------------------------------------------------------------
# webhook
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class AvitoInbound:
    """One client message from an Avito webhook."""

    event_id: str
    message_id: str
    chat_id: str
    author_id: int
    user_id: int
    item_id: int | None
    type: str
    text: str | None
    voice_id: str | None
    image_url: str | None
    created: datetime


def _require(mapping: Mapping[str, Any], key: str, field: str) -> Any:
    value = mapping.get(key)
    if value is None or value == "":
        raise ValidationError(f"Нет поля {field}", field=field)
    return value


def _opt_int(value: Any, field: str) -> int | None:
    return None if value is None else _as_int(value, field)


def _as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise ValidationError(f"{field}: ожидается число", field=field)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{field}: ожидается число", field=field) from None


def _as_dict(value: Any, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValidationError(f"{field}: ожидается объект", field=field)
    return value


def _largest_image(image: Any) -> str | None:
    """The largest size of ``content.image.sizes`` (``{"1280x960": url, ...}``)."""
    if not isinstance(image, dict):
        return None
    sizes = image.get("sizes")
    if not isinstance(sizes, dict) or not sizes:
        return image.get("url") if isinstance(image.get("url"), str) else None

    def area(key: str) -> int:
        try:
            w, h = key.lower().split("x", 1)
            return int(w) * int(h)
        except ValueError:
            return 0

    best = max(sizes, key=area)
    url = sizes[best]
    return url if isinstance(url, str) else None


def parse_webhook(body: Any) -> AvitoInbound | None:
    """Validate an Avito webhook body; ``None`` for events we don't answer (ours, ``system``, non-message).

    Raises ``ValidationError`` with ``field`` (a dotted path into the body) when the body is malformed.
    """
    body = _as_dict(body, "body")
    event_id = str(_require(body, "id", "id"))
    payload = _as_dict(_require(body, "payload", "payload"), "payload")
    payload_type = _require(payload, "type", "payload.type")
    if payload_type != "message":
        return None
    value = _as_dict(_require(payload, "value", "payload.value"), "payload.value")
    message_id = str(_require(value, "id", "payload.value.id"))
    chat_id = str(_require(value, "chat_id", "payload.value.chat_id"))
    user_id = _as_int(_require(value, "user_id", "payload.value.user_id"), "payload.value.user_id")
    author_id = _as_int(_require(value, "author_id", "payload.value.author_id"), "payload.value.author_id")
    created_ts = _as_int(_require(value, "created", "payload.value.created"), "payload.value.created")
    msg_type = _require(value, "type", "payload.value.type")
    if not isinstance(msg_type, str) or msg_type not in MESSAGE_TYPES:
        raise ValidationError(f"Неизвестный тип сообщения: {msg_type!r}", field="payload.value.type")
    item_id = _opt_int(value.get("item_id"), "payload.value.item_id")

    if msg_type == "system" or author_id == user_id:
        return None

    content_raw = value.get("content")
    content = _as_dict(content_raw, "payload.value.content") if content_raw is not None else {}
    text: str | None = None
    voice_id: str | None = None
    image_url: str | None = None
    if msg_type == "text":
        raw_text = content.get("text")
        if not isinstance(raw_text, str):
            raise ValidationError("Нет текста сообщения", field="payload.value.content.text")
        text = raw_text
    elif msg_type == "voice":
        voice = content.get("voice")
        if isinstance(voice, dict) and voice.get("voice_id"):
            voice_id = str(voice["voice_id"])
    elif msg_type == "image":
        image_url = _largest_image(content.get("image"))
    elif msg_type == "link":
        link = content.get("link")
        if isinstance(link, dict):
            link_text = link.get("text") or link.get("url")
            text = str(link_text) if link_text else None
    elif isinstance(content.get("text"), str):
        text = content["text"]

    return AvitoInbound(
        event_id=event_id,
        message_id=message_id,
        chat_id=chat_id,
        author_id=author_id,
        user_id=user_id,
        item_id=item_id,
        type=msg_type,
        text=text,
        voice_id=voice_id,
        image_url=image_url,
        created=datetime.fromtimestamp(created_ts, tz=UTC),
    )
