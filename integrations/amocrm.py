"""amoCRM API v4 client (contract: shared/contracts/amocrm.md) and its Redis-shared rate limiter.

amoCRM allows 7 requests/s per integration. Several worker processes share one integration, so the limit
is kept in Redis: ``AmoRateLimiter`` is a sliding-window log (a sorted set of request times, Redis server
clock, one Lua script so check-and-add is atomic). A hand-written script rather than ``limits``: we need
"how long to wait" (not only yes/no) and one clock for all hosts.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol, TypedDict

import aiohttp
import redis.asyncio as aioredis
from loguru import logger
from redis.exceptions import RedisError

from integrations.http import (
    DEFAULT_TIMEOUT,
    RETRYABLE_STATUSES,
    HttpResponse,
    RetryPolicy,
    SessionOwner,
    Sleep,
    request_with_retries,
)
from voronka.errors import NotConfigured, UpstreamError
from voronka.settings import Settings

SERVICE = "amocrm"
STATUS_SUCCESS = 142  # built-in "Успешно реализовано"


class AmoCRMError(UpstreamError):
    """An amoCRM call failed; ``validation_errors`` holds the problem+json details when amoCRM sent them."""

    code = "amocrm_error"

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None,
                 retry_after: float | None = None, validation_errors: list[Any] | None = None) -> None:
        super().__init__(message, service=SERVICE, retryable=retryable, status_code=status_code,
                         retry_after=retry_after)
        self.validation_errors = validation_errors or []


class AmoUnauthorized(AmoCRMError):
    """The token is wrong, expired or revoked: nothing to retry, a manager must issue a new one."""

    code = "amocrm_unauthorized"


class Contact(TypedDict, total=False):
    name: str
    phone: str | None
    email: str | None


class RateLimiter(Protocol):
    async def acquire(self) -> None: ...


# KEYS[1] = the window key; ARGV = limit, window in microseconds, unique member.
# Returns 0 when a slot was taken, else the microseconds to wait before trying again.
_SLIDING_WINDOW_LUA = """
local key = KEYS[1]
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
if redis.call('ZCARD', key) < limit then
  redis.call('ZADD', key, now, ARGV[3])
  redis.call('PEXPIRE', key, math.ceil(window / 1000) + 1000)
  return 0
end
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return math.max(1, math.floor(tonumber(oldest[2]) + window - now) + 1)
"""


class AmoRateLimiter:
    """At most ``limit`` acquisitions in any ``window`` seconds, across every process sharing ``redis``.

    The default window is 1.1 s rather than 1 s: the margin absorbs the few milliseconds between taking a slot
    and the request reaching amoCRM, so amoCRM's own 1-second count never sees an eighth request.
    """

    def __init__(self, redis: aioredis.Redis, *, key: str = "voronka:ratelimit:amocrm", limit: int = 7,
                 window: float = 1.1, sleep: Sleep = asyncio.sleep, max_wait: float = 30.0) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("limit must be ≥ 1 and window > 0")
        self._redis = redis
        self._key = key
        self._limit = limit
        self._window_us = int(window * 1_000_000)
        self._sleep = sleep
        self._max_wait = max_wait
        self._script = redis.register_script(_SLIDING_WINDOW_LUA)

    async def acquire(self) -> None:
        """Wait until a request may be sent; ``UpstreamError`` when Redis fails or the wait is too long."""
        waited = 0.0
        while True:
            member = secrets.token_hex(8)
            try:
                args: list[str | int] = [self._limit, self._window_us, member]
                wait_us = int(await self._script(keys=[self._key], args=args))
            except RedisError as exc:
                raise UpstreamError("Redis недоступен для лимита запросов amoCRM", service="redis",
                                    retryable=True) from exc
            if wait_us <= 0:
                return
            wait = wait_us / 1_000_000
            if waited + wait > self._max_wait:
                raise UpstreamError("amoCRM: очередь запросов слишком длинная", service=SERVICE,
                                    retryable=True, retry_after=wait)
            waited += wait
            await self._sleep(wait)


def _problem_message(response: HttpResponse) -> tuple[str, list[Any]]:
    """A readable message from an ``application/problem+json`` body (title, detail, validation-errors)."""
    body = response.json_or_none()
    if not isinstance(body, dict):
        return f"amoCRM: HTTP {response.status}", []
    parts = [str(body.get("title") or f"HTTP {response.status}")]
    if body.get("detail"):
        parts.append(str(body["detail"]))
    validation = body.get("validation-errors") or []
    details: list[str] = []
    for item in validation if isinstance(validation, list) else []:
        errors = item.get("errors", []) if isinstance(item, dict) else []
        for err in errors:
            if isinstance(err, dict):
                details.append(f"{err.get('path', '?')}: {err.get('detail') or err.get('code', '')}".strip())
    if details:
        parts.append("; ".join(details))
    return f"amoCRM {response.status}: " + " — ".join(parts), (
        validation if isinstance(validation, list) else [])


def _classify(response: HttpResponse) -> UpstreamError:
    message, validation = _problem_message(response)
    if response.status == 401:
        return AmoUnauthorized(message, retryable=False, status_code=401)
    return AmoCRMError(message, retryable=response.status in RETRYABLE_STATUSES, status_code=response.status,
                       retry_after=response.retry_after, validation_errors=validation)


def _price(value: int | Decimal | float) -> int:
    """amoCRM prices are whole roubles."""
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class AmoCRMClient(SessionOwner):
    """amoCRM v4 with a long-lived token; every attempt (retries too) first takes a slot from ``limiter``."""

    def __init__(self, base_url: str, token: str, *, session: aiohttp.ClientSession | None = None,
                 limiter: RateLimiter | None = None, max_retries: int = 3, sleep: Sleep = asyncio.sleep,
                 timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT, policy: RetryPolicy | None = None) -> None:
        if not base_url or not token:
            raise NotConfigured(
                "amoCRM не настроен: нужны AMOCRM_BASE_URL (или AMOCRM_DOMAIN) и AMOCRM_ACCESS_TOKEN")
        super().__init__(session)
        self._base = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._limiter = limiter
        self._policy = policy or RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, session: aiohttp.ClientSession | None = None,
                      limiter: RateLimiter | None = None, sleep: Sleep = asyncio.sleep) -> AmoCRMClient:
        domain = settings.AMOCRM_DOMAIN
        base = settings.AMOCRM_BASE_URL or (f"https://{domain}" if domain else "")
        return cls(base, settings.AMOCRM_ACCESS_TOKEN, session=session, limiter=limiter,
                   max_retries=settings.MAX_RETRIES, sleep=sleep)

    async def _call(self, method: str, path: str, body: Any = None) -> HttpResponse:
        return await request_with_retries(
            self.session, method, self._base + path, service=SERVICE, classify=_classify, policy=self._policy,
            sleep=self._sleep, before_attempt=self._limiter.acquire if self._limiter else None,
            timeout=self._timeout, headers=self._headers, json_body=body,
        )

    async def create_lead_complex(self, name: str, price: int | Decimal, tags: Sequence[str],
                                  contact: Contact, pipeline_id: int | None = None,
                                  status_id: int | None = None) -> dict[str, int]:
        """Create a lead with its contact and tags in one call; returns ``{"id", "contact_id"}``."""
        fields: list[dict[str, Any]] = []
        if contact.get("phone"):
            fields.append({"field_code": "PHONE",
                           "values": [{"value": contact["phone"], "enum_code": "WORK"}]})
        if contact.get("email"):
            fields.append({"field_code": "EMAIL",
                           "values": [{"value": contact["email"], "enum_code": "WORK"}]})
        amo_contact: dict[str, Any] = {"first_name": contact.get("name") or "Без имени"}
        if fields:
            amo_contact["custom_fields_values"] = fields
        lead: dict[str, Any] = {
            "name": name,
            "price": _price(price),
            "_embedded": {"tags": [{"name": tag} for tag in tags], "contacts": [amo_contact]},
        }
        if pipeline_id:
            lead["pipeline_id"] = pipeline_id
        if status_id:
            lead["status_id"] = status_id
        response = await self._call("POST", "/api/v4/leads/complex", [lead])
        body = response.json_or_none()
        if not isinstance(body, list) or not body or "id" not in body[0]:
            raise AmoCRMError("amoCRM: неожиданный ответ на создание сделки", retryable=False,
                              status_code=response.status)
        result = {"id": int(body[0]["id"]), "contact_id": int(body[0].get("contact_id") or 0)}
        logger.info("amoCRM lead {} created", result["id"])
        return result

    async def update_lead(self, lead_id: int, *, price: int | Decimal | None = None,
                          status_id: int | None = None, pipeline_id: int | None = None,
                          tags: Sequence[str] | None = None) -> dict[str, Any]:
        """Change price / move in the pipeline (e.g. ``STATUS_SUCCESS`` = 142 when paid) / replace tags."""
        patch: dict[str, Any] = {}
        if price is not None:
            patch["price"] = _price(price)
        if status_id is not None:
            patch["status_id"] = status_id
        if pipeline_id is not None:
            patch["pipeline_id"] = pipeline_id
        if tags is not None:
            patch["_embedded"] = {"tags": [{"name": tag} for tag in tags]}
        if not patch:
            raise ValueError("update_lead: nothing to change")
        response = await self._call("PATCH", f"/api/v4/leads/{int(lead_id)}", patch)
        body = response.json_or_none()
        return body if isinstance(body, dict) else {"id": lead_id}

    async def add_note(self, lead_id: int, text: str) -> int:
        """Add a common note to a lead; returns the note id."""
        note = {"entity_id": int(lead_id), "note_type": "common", "params": {"text": text}}
        response = await self._call("POST", "/api/v4/leads/notes", [note])
        body = response.json_or_none() or {}
        notes = body.get("_embedded", {}).get("notes", []) if isinstance(body, dict) else []
        if not notes:
            raise AmoCRMError("amoCRM: неожиданный ответ на добавление примечания", retryable=False,
                              status_code=response.status)
        return int(notes[0]["id"])

    async def pipelines(self) -> list[dict[str, Any]]:
        """Pipelines with statuses ``[{"id", "name", "is_main", "statuses": [{"id", "name"}]}]``; 204 → []."""
        response = await self._call("GET", "/api/v4/leads/pipelines")
        body = response.json_or_none()
        if response.status == 204 or not isinstance(body, dict):
            return []
        result = []
        for pipeline in body.get("_embedded", {}).get("pipelines", []):
            statuses = pipeline.get("_embedded", {}).get("statuses", [])
            result.append({
                "id": pipeline["id"], "name": pipeline.get("name", ""),
                "is_main": pipeline.get("is_main", False),
                "statuses": [{"id": s["id"], "name": s.get("name", "")} for s in statuses],
            })
        return result
