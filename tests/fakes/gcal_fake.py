"""A faithful local Google OAuth token endpoint + Calendar API v3 (shared/contracts/google-calendar.md).

- ``POST /token``: verifies the RS256 JWT assertion with the public key given to the fake (iss,
  aud = token_uri, scope, exp ≤ iat + 1 h), answers ``{"access_token", "expires_in": 3599,
  "token_type": "Bearer"}`` or 400 ``invalid_grant``.
- ``POST /calendar/v3/freeBusy``: busy intervals computed from the stored (not cancelled) events.
- ``POST /calendar/v3/calendars/{id}/events``, ``DELETE .../events/{eventId}`` (204, then 410 Gone).
- Bearer check → 401; ``fail_next`` scripts failures (403 ``rateLimitExceeded`` by default for 403).

``token_uri`` and ``api_url`` are what the client is pointed at.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LocalServer, RecordedRequest

SCOPE = "https://www.googleapis.com/auth/calendar"


@dataclass
class _Failure:
    status: int
    body: Any
    times: int


def google_error(status: int, reason: str, message: str) -> web.Response:
    return web.json_response(
        {"error": {"code": status, "message": message,
                   "errors": [{"domain": "global", "reason": reason, "message": message}]}},
        status=status)


_DEFAULT_FAILURES = {
    403: ("rateLimitExceeded", "Rate Limit Exceeded"),
    429: ("rateLimitExceeded", "Rate Limit Exceeded"),
    500: ("backendError", "Backend Error"),
    503: ("backendError", "Backend Error"),
}


def _parse(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError("no offset")
    return parsed


@dataclass
class GoogleCalendarFake(LocalServer):
    public_key: Any  # PEM bytes/str or a cryptography public key
    client_email: str = "voronka@voronka-test.iam.gserviceaccount.com"
    calendar_id: str = "primary"
    token_ttl: int = 3599
    requests: list[RecordedRequest] = field(default_factory=list)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._failures: deque[_Failure] = deque()
        self._tokens: dict[str, float] = {}
        self._server: TestServer | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_post("/token", self._token)
        self.app.router.add_post("/calendar/v3/freeBusy", self._free_busy)
        self.app.router.add_post("/calendar/v3/calendars/{calendar}/events", self._insert)
        self.app.router.add_delete("/calendar/v3/calendars/{calendar}/events/{event}", self._delete)

    # --- lifecycle: tests.fakes.server.LocalServer -------------------------------------------------
    @property
    def base_url(self) -> str:
        return self.root_url

    @property
    def token_uri(self) -> str:
        return f"{self.base_url}/token"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/calendar/v3"

    # --- scripting / inspection ---------------------------------------------------------------------
    def fail_next(self, status: int, body: Any = None, times: int = 1) -> None:
        """The next ``times`` calendar requests (not token requests) answer ``status``."""
        self._failures.append(_Failure(status, body, times))

    def expire_tokens(self) -> None:
        """Every issued access token stops working (as after a revoke or expiry)."""
        self._tokens.clear()

    def add_event(self, start: datetime, end: datetime, summary: str = "Занято") -> str:
        event_id = secrets.token_hex(13)
        self.events[event_id] = {"id": event_id, "summary": summary, "status": "confirmed",
                                 "start": {"dateTime": start.isoformat()},
                                 "end": {"dateTime": end.isoformat()}}
        return event_id

    def calls(self, path_suffix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    # --- middleware --------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        if request.content_type == "application/json" and raw:
            body: Any = json.loads(raw)
        else:
            body = dict(await request.post()) if raw else None
        record = RecordedRequest(request.method, request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        response = await self._dispatch(request, handler)
        record.status = response.status
        return response

    async def _dispatch(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path != "/token":
            if self._failures:
                failure = self._failures[0]
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.popleft()
                if failure.body is not None:
                    return web.json_response(failure.body, status=failure.status)
                reason, message = _DEFAULT_FAILURES.get(failure.status, ("backendError", "Scripted failure"))
                return google_error(failure.status, reason, message)
            auth = request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            if not auth.startswith("Bearer ") or self._tokens.get(token, 0) < time.time():
                return google_error(401, "authError", "Request had invalid authentication credentials.")
        result: web.StreamResponse = await handler(request)
        return result

    # --- handlers ------------------------------------------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
            return web.json_response({"error": "unsupported_grant_type",
                                      "error_description": "Invalid grant_type"}, status=400)
        try:
            claims = jwt.decode(str(form.get("assertion", "")), self.public_key, algorithms=["RS256"],
                                audience=self.token_uri, issuer=self.client_email,
                                options={"require": ["iss", "aud", "iat", "exp", "scope"]})
        except jwt.PyJWTError as exc:
            return web.json_response({"error": "invalid_grant", "error_description": f"Invalid JWT: {exc}"},
                                     status=400)
        if claims["exp"] - claims["iat"] > 3600:
            return web.json_response({"error": "invalid_grant",
                                      "error_description": "Invalid JWT: Expiration too far in future"},
                                     status=400)
        if SCOPE not in str(claims["scope"]).split():
            return web.json_response({"error": "invalid_scope", "error_description": "Invalid scope"},
                                     status=400)
        token = "ya29." + secrets.token_urlsafe(24)
        self._tokens[token] = time.time() + self.token_ttl
        return web.json_response({"access_token": token, "expires_in": self.token_ttl,
                                  "token_type": "Bearer"})

    def _busy(self, time_min: datetime, time_max: datetime) -> list[tuple[datetime, datetime]]:
        spans = []
        for event in self.events.values():
            if event["status"] == "cancelled":
                continue
            start, end = _parse(event["start"]["dateTime"]), _parse(event["end"]["dateTime"])
            if start < time_max and time_min < end:
                spans.append((max(start, time_min), min(end, time_max)))
        merged: list[tuple[datetime, datetime]] = []
        for start, end in sorted(spans):
            if merged and start <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], end))
            else:
                merged.append((start, end))
        return merged

    async def _free_busy(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            time_min, time_max = _parse(body["timeMin"]), _parse(body["timeMax"])
        except (KeyError, ValueError):
            return google_error(400, "badRequest", "Bad Request")
        if time_max <= time_min:
            return google_error(400, "timeRangeEmpty", "The specified time range is empty.")
        if time_max - time_min > timedelta(days=62):
            return google_error(400, "timeRangeTooLong", "The specified time range is too long.")
        calendars: dict[str, Any] = {}
        for item in body.get("items", []):
            if item.get("id") != self.calendar_id:
                calendars[item.get("id")] = {"errors": [{"domain": "global", "reason": "notFound"}],
                                             "busy": []}
                continue
            calendars[item["id"]] = {"busy": [
                {"start": s.astimezone().isoformat(), "end": e.astimezone().isoformat()}
                for s, e in self._busy(time_min, time_max)]}
        return web.json_response({"kind": "calendar#freeBusy", "timeMin": body["timeMin"],
                                  "timeMax": body["timeMax"], "calendars": calendars})

    async def _insert(self, request: web.Request) -> web.Response:
        if request.match_info["calendar"] != self.calendar_id:
            return google_error(404, "notFound", "Not Found")
        body = await request.json()
        try:
            start, end = _parse(body["start"]["dateTime"]), _parse(body["end"]["dateTime"])
        except (KeyError, TypeError, ValueError):
            return google_error(400, "required", "Missing or invalid start/end time.")
        if end <= start:
            return google_error(400, "timeRangeEmpty", "The specified time range is empty.")
        if body.get("attendees"):
            return google_error(403, "forbiddenForServiceAccounts",
                                "Service accounts cannot invite attendees without Domain-Wide Delegation.")
        event_id = secrets.token_hex(13)
        event = {**body, "kind": "calendar#event", "id": event_id, "status": "confirmed",
                 "htmlLink": f"https://www.google.com/calendar/event?eid={event_id}",
                 "created": datetime.now().astimezone().isoformat()}
        self.events[event_id] = event
        return web.json_response(event)

    async def _delete(self, request: web.Request) -> web.Response:
        if request.match_info["calendar"] != self.calendar_id:
            return google_error(404, "notFound", "Not Found")
        event = self.events.get(request.match_info["event"])
        if event is None:
            return google_error(404, "notFound", "Not Found")
        if event["status"] == "cancelled":
            return google_error(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        return web.Response(status=204)
