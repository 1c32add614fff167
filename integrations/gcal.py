"""Google Calendar API v3 with a service account (contract: shared/contracts/google-calendar.md).

Auth: a JWT (RS256, signed with the key from the credentials JSON) is exchanged at ``token_uri`` for an
access token, cached until shortly before it expires; a 401 on an API call drops the cache and retries once.
The slot arithmetic lives in ``integrations.gcal_slots`` (re-exported here).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import jwt
from loguru import logger

from integrations.gcal_slots import free_slots, overlaps, parse_work_hours
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

__all__ = [
    "CALENDAR_SCOPE", "GoogleAPIError", "GoogleCalendarClient", "ServiceAccount", "ServiceAccountTokens",
    "free_slots", "overlaps", "parse_work_hours",
]

SERVICE = "google_calendar"
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
RATE_LIMIT_REASONS = frozenset({"rateLimitExceeded", "userRateLimitExceeded"})
TOKEN_MARGIN_SECONDS = 60  # refresh this long before the token's stated expiry


class GoogleAPIError(UpstreamError):
    """A Google call failed; ``reason`` is the first ``errors[].reason`` (e.g. ``rateLimitExceeded``)."""

    code = "google_error"

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None,
                 retry_after: float | None = None, reason: str | None = None) -> None:
        super().__init__(message, service=SERVICE, retryable=retryable, status_code=status_code,
                         retry_after=retry_after)
        self.reason = reason


@dataclass(frozen=True)
class ServiceAccount:
    client_email: str
    private_key: str
    token_uri: str
    private_key_id: str | None = None

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> ServiceAccount:
        missing = [k for k in ("client_email", "private_key", "token_uri") if not info.get(k)]
        if missing:
            raise NotConfigured("GOOGLE_CALENDAR_CREDENTIALS: в ключе сервисного аккаунта нет полей "
                                + ", ".join(missing))
        return cls(info["client_email"], info["private_key"], info["token_uri"], info.get("private_key_id"))

    @classmethod
    def load(cls, value: str) -> ServiceAccount:
        """From the setting: the JSON itself (starts with ``{``) or a path to the JSON file."""
        if not value.strip():
            raise NotConfigured("Google Calendar не настроен: задайте GOOGLE_CALENDAR_CREDENTIALS")
        try:
            text = value if value.lstrip().startswith("{") else Path(value).read_text(encoding="utf-8")
        except OSError as exc:
            raise NotConfigured(
                f"GOOGLE_CALENDAR_CREDENTIALS: не удалось прочитать файл ключа ({exc.strerror})") from exc
        try:
            info = json.loads(text)
        except ValueError as exc:
            raise NotConfigured("GOOGLE_CALENDAR_CREDENTIALS: это не JSON ключа сервисного аккаунта") from exc
        return cls.from_info(info)


def _google_error(response: HttpResponse) -> tuple[str, str | None]:
    body = response.json_or_none()
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        errors = err.get("errors") or []
        reason = errors[0].get("reason") if errors and isinstance(errors[0], dict) else None
        return f"Google {response.status}: {err.get('message', '')} ({reason or 'no reason'})", reason
    if isinstance(body, dict) and isinstance(body.get("error"), str):  # the OAuth token endpoint's shape
        description = body.get("error_description", "")
        return f"Google token {response.status}: {body['error']} {description}".strip(), body["error"]
    return f"Google: HTTP {response.status}", None


def _classify(response: HttpResponse) -> UpstreamError:
    message, reason = _google_error(response)
    retryable = response.status in RETRYABLE_STATUSES or (
        response.status == 403 and reason in RATE_LIMIT_REASONS)
    return GoogleAPIError(message, retryable=retryable, status_code=response.status,
                          retry_after=response.retry_after, reason=reason)


class ServiceAccountTokens:
    """Access tokens for a service account, fetched with a signed JWT and cached until near expiry."""

    def __init__(self, account: ServiceAccount, *, scope: str = CALENDAR_SCOPE,
                 clock: Callable[[], float] = time.time, policy: RetryPolicy | None = None,
                 sleep: Sleep = asyncio.sleep, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT) -> None:
        self._account = account
        self._scope = scope
        self._clock = clock
        self._policy = policy or RetryPolicy()
        self._sleep = sleep
        self._timeout = timeout
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def assertion(self) -> str:
        now = int(self._clock())
        claims = {"iss": self._account.client_email, "scope": self._scope, "aud": self._account.token_uri,
                  "iat": now, "exp": now + 3600}
        headers = {"kid": self._account.private_key_id} if self._account.private_key_id else None
        return jwt.encode(claims, self._account.private_key, algorithm="RS256", headers=headers)

    def invalidate(self) -> None:
        self._token = None
        self._expires_at = 0.0

    async def token(self, session: aiohttp.ClientSession) -> str:
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at:
                return self._token
            response = await request_with_retries(
                session, "POST", self._account.token_uri, service=SERVICE, classify=_classify,
                policy=self._policy, sleep=self._sleep, timeout=self._timeout,
                data={"grant_type": JWT_BEARER, "assertion": self.assertion()},
            )
            body = response.json_or_none()
            if not isinstance(body, dict) or not body.get("access_token"):
                raise GoogleAPIError("Google token: ответ без access_token", retryable=False,
                                     status_code=response.status)
            self._token = str(body["access_token"])
            self._expires_at = self._clock() + float(body.get("expires_in", 3600)) - TOKEN_MARGIN_SECONDS
            logger.debug("Google access token obtained, valid {}s", body.get("expires_in"))
            return self._token


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        raise ValueError("datetimes sent to Google Calendar must be timezone-aware")
    return value.isoformat()


class GoogleCalendarClient(SessionOwner):
    def __init__(self, account: ServiceAccount, *, api_url: str = "https://www.googleapis.com/calendar/v3",
                 calendar_id: str = "primary", session: aiohttp.ClientSession | None = None,
                 max_retries: int = 3, sleep: Sleep = asyncio.sleep, clock: Callable[[], float] = time.time,
                 timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT, policy: RetryPolicy | None = None) -> None:
        super().__init__(session)
        self._api = api_url.rstrip("/")
        self.calendar_id = calendar_id
        self._policy = policy or RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._timeout = timeout
        self.tokens = ServiceAccountTokens(account, clock=clock, policy=self._policy, sleep=sleep,
                                           timeout=timeout)

    @classmethod
    def from_settings(cls, settings: Settings, *, session: aiohttp.ClientSession | None = None,
                      sleep: Sleep = asyncio.sleep) -> GoogleCalendarClient:
        return cls(ServiceAccount.load(settings.GOOGLE_CALENDAR_CREDENTIALS), api_url=settings.GOOGLE_API_URL,
                   calendar_id=settings.GOOGLE_CALENDAR_ID, session=session, max_retries=settings.MAX_RETRIES,
                   sleep=sleep)

    @property
    def _events_url(self) -> str:
        return f"{self._api}/calendars/{quote(self.calendar_id, safe='')}/events"

    async def _call(self, method: str, url: str, body: Any = None,
                    ok: Callable[[int], bool] = lambda s: 200 <= s < 300) -> HttpResponse:
        for attempt in range(2):
            token = await self.tokens.token(self.session)
            try:
                return await request_with_retries(
                    self.session, method, url, service=SERVICE, classify=_classify, policy=self._policy,
                    sleep=self._sleep, timeout=self._timeout, ok=ok, json_body=body,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except GoogleAPIError as exc:
                if exc.status_code != 401 or attempt:
                    raise
                logger.info("Google answered 401: refreshing the access token once")
                self.tokens.invalidate()
        raise AssertionError("unreachable")

    async def free_busy(self, time_min: datetime, time_max: datetime,
                        tz: str = "Europe/Moscow") -> list[tuple[datetime, datetime]]:
        """Busy intervals of the calendar within [time_min, time_max), sorted."""
        body = {"timeMin": _iso(time_min), "timeMax": _iso(time_max), "timeZone": tz,
                "items": [{"id": self.calendar_id}]}
        data = (await self._call("POST", f"{self._api}/freeBusy", body)).json_or_none() or {}
        calendar = data.get("calendars", {}).get(self.calendar_id)
        if calendar is None:
            raise GoogleAPIError("Google freeBusy: в ответе нет календаря", retryable=False)
        if calendar.get("errors"):
            reason = calendar["errors"][0].get("reason")
            raise GoogleAPIError(f"Google freeBusy: календарь недоступен ({reason})", retryable=False,
                                 reason=reason)
        busy = [(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"]))
                for b in calendar.get("busy", [])]
        return sorted(busy)

    async def insert_event(self, summary: str, description: str, start: datetime, end: datetime,
                           tz: str = "Europe/Moscow", *, reminder_minutes: int = 60) -> dict[str, str]:
        """Create an event (no attendees: a service account cannot invite); returns ``{"id", "htmlLink"}``."""
        if end <= start:
            raise ValueError("event end must be after its start")
        body = {
            "summary": summary, "description": description,
            "start": {"dateTime": _iso(start), "timeZone": tz},
            "end": {"dateTime": _iso(end), "timeZone": tz},
            "reminders": {"useDefault": False,
                          "overrides": [{"method": "popup", "minutes": reminder_minutes}]},
        }
        data = (await self._call("POST", self._events_url, body)).json_or_none() or {}
        if not data.get("id"):
            raise GoogleAPIError("Google: событие создано без id", retryable=False)
        logger.info("Google Calendar event {} created", data["id"])
        return {"id": str(data["id"]), "htmlLink": str(data.get("htmlLink", ""))}

    async def delete_event(self, event_id: str) -> None:
        """Delete an event; one already deleted (410 Gone) counts as done."""
        response = await self._call("DELETE", f"{self._events_url}/{quote(event_id, safe='')}",
                                    ok=lambda s: 200 <= s < 300 or s == 410)
        if response.status == 410:
            logger.info("Google Calendar event {} was already deleted", event_id)
