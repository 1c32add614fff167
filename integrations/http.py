"""A small shared HTTP layer for the external API clients.

``request_with_retries`` sends one logical request with explicit timeouts, retrying transport errors and
the responses the client's ``classify`` callback marks as retryable, with exponential backoff plus jitter,
honouring ``Retry-After``. Clients only describe their own error bodies (``classify``) and their own pacing
(``before_attempt``, e.g. a shared rate limiter); the rest lives here so every client behaves the same way.

``SessionOwner`` is a base for clients that accept an injected ``aiohttp.ClientSession`` or create (and then
close) their own.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self
from urllib.parse import urlsplit

import aiohttp
from loguru import logger
from multidict import CIMultiDict, CIMultiDictProxy

from voronka.errors import UpstreamError

Sleep = Callable[[float], Awaitable[None]]

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5, sock_read=15)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``max_retries`` extra attempts after the first; delays grow as ``base_delay * 2**n`` to ``max_delay``.

    A ``Retry-After`` longer than ``max_retry_after`` is not waited out in-process: the error is raised
    (retryable, with ``retry_after`` set) so a queue can reschedule the job instead of holding a worker.
    """

    max_retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Backoff before retry number ``attempt`` (0-based): "equal jitter", i.e. half fixed, half random."""
        capped = min(self.max_delay, self.base_delay * (2**attempt))
        return capped / 2 + (rng or random).uniform(0, capped / 2)


@dataclass
class HttpResponse:
    """A fully read response (the connection is already released)."""

    status: int
    headers: CIMultiDictProxy[str] = field(default_factory=lambda: CIMultiDictProxy(CIMultiDict()))
    body: bytes = b""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body as JSON; ``None`` for an empty body (e.g. 204)."""
        if not self.body:
            return None
        return json.loads(self.body)

    def json_or_none(self) -> Any:
        """The body as JSON, or ``None`` when it is empty or not JSON (error pages from proxies)."""
        try:
            return self.json()
        except ValueError:
            return None

    @property
    def retry_after(self) -> float | None:
        return parse_retry_after(self.headers.get("Retry-After"))


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); ``None`` when absent/invalid."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def default_classify(service: str) -> Callable[[HttpResponse], UpstreamError]:
    """A classifier for services without a structured error body: 408/429/5xx retryable, the rest not."""

    def classify(response: HttpResponse) -> UpstreamError:
        return UpstreamError(
            f"{service}: HTTP {response.status}",
            service=service,
            retryable=response.status in RETRYABLE_STATUSES,
            status_code=response.status,
            retry_after=response.retry_after,
        )

    return classify


def _path_of(url: str) -> str:
    """The path only, for logs (no query string: it may carry personal data or keys)."""
    return urlsplit(url).path


async def request_with_retries(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    service: str,
    classify: Callable[[HttpResponse], UpstreamError] | None = None,
    policy: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    before_attempt: Callable[[], Awaitable[None]] | None = None,
    timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
    ok: Callable[[int], bool] = lambda status: 200 <= status < 300,
    rng: random.Random | None = None,
    headers: Mapping[str, str] | None = None,
    json_body: Any = None,
    data: Any = None,
    params: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Send a request, retrying what is worth retrying; return the first response ``ok`` accepts.

    Raises ``UpstreamError`` (from ``classify`` for HTTP errors, ``retryable=True`` for timeouts and
    connection errors) once the error is not retryable or the retries are used up. Repeated attempts send
    exactly the same headers, so an ``Idempotence-Key`` stays the same across retries.
    """
    policy = policy or RetryPolicy()
    classify = classify or default_classify(service)
    path = _path_of(url)
    attempt = 0
    while True:
        if before_attempt is not None:
            await before_attempt()
        error: UpstreamError
        try:
            async with session.request(
                method, url, headers=headers, json=json_body, data=data, params=params,
                timeout=timeout, allow_redirects=False,
            ) as resp:
                body = await resp.read()
                response = HttpResponse(resp.status, resp.headers, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = UpstreamError(f"{service}: {type(exc).__name__} при запросе {method} {path}",
                                  service=service, retryable=True)
            error.__cause__ = exc
        else:
            if ok(response.status):
                return response
            error = classify(response)
        if not error.retryable or attempt >= policy.max_retries:
            logger.warning("{} {} {} failed for good after {} attempt(s): status={} retryable={}", service,
                           method, path, attempt + 1, error.status_code, error.retryable)
            raise error
        if error.retry_after is not None and error.retry_after > policy.max_retry_after:
            logger.warning("{} {} {}: Retry-After {}s is too long to wait in-process", service, method, path,
                           error.retry_after)
            raise error
        delay = error.retry_after if error.retry_after is not None else policy.delay(attempt, rng)
        logger.info("{} {} {}: status={} — retry {}/{} in {:.2f}s", service, method, path, error.status_code,
                    attempt + 1, policy.max_retries, delay)
        await sleep(delay)
        attempt += 1


class SessionOwner:
    """Uses an injected ``aiohttp.ClientSession`` or lazily creates its own, which ``close()`` then closes."""

    def __init__(self, session: aiohttp.ClientSession | None = None) -> None:
        self._session = session
        self._owns_session = session is None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            if not self._owns_session:
                raise RuntimeError("the injected aiohttp session is closed")
            self._session = aiohttp.ClientSession(timeout=DEFAULT_TIMEOUT)
        return self._session

    async def close(self) -> None:
        if self._owns_session and self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None if self._owns_session else self._session

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
