"""A small shared HTTP layer for the external API clients.

``request_with_retries`` sends one logical request with explicit timeouts, retrying transport errors and
the responses the client's ``classify`` callback marks as retryable, with exponential backoff plus jitter,
honouring ``Retry-After``. Clients only describe their own error bodies (``classify``) and their own pacing
(``before_attempt``, e.g. a shared rate limiter); the rest lives here so every client behaves the same way.

The retrying itself is tenacity's: ``RetryPolicy.retrying`` builds the ``AsyncRetrying`` (attempts, backoff,
``Retry-After`` as the wait, a too-long ``Retry-After`` as a stop) and ``call_with_retries`` runs any
coroutine under it, so the clients that do not speak plain HTTP (Telegram through aiogram, SMTP, the OpenAI
SDK) share the same rules.

``SessionOwner`` is a base for clients that accept an injected ``aiohttp.ClientSession`` or create (and then
close) their own.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import aiohttp
from loguru import logger
from multidict import CIMultiDict, CIMultiDictProxy
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential,
    wait_random_exponential,
)
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from voronka.errors import UpstreamError

Sleep = Callable[[float], Awaitable[None]]
T = TypeVar("T")

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5, sock_read=15)
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def is_retryable(exc: BaseException) -> bool:
    """The default retry predicate: an ``UpstreamError`` that says a later attempt may succeed."""
    return isinstance(exc, UpstreamError) and exc.retryable


def _retry_after_of(retry_state: RetryCallState) -> float | None:
    """The ``Retry-After`` carried by the failed attempt's ``UpstreamError``, if any."""
    error = retry_state.outcome.exception() if retry_state.outcome is not None else None
    return error.retry_after if isinstance(error, UpstreamError) else None


class wait_retry_after(wait_base):  # named like tenacity's own strategies
    """Wait what the server asked for (``UpstreamError.retry_after``) when it did, else ``fallback``."""

    def __init__(self, fallback: wait_base) -> None:
        self.fallback = fallback

    def __call__(self, retry_state: RetryCallState) -> float:
        retry_after = _retry_after_of(retry_state)
        return retry_after if retry_after is not None else self.fallback(retry_state)


class stop_if_retry_after_exceeds(stop_base):  # named like tenacity's own strategies
    """Stop when the server asks for a longer pause than ``limit``: the queue reschedules the job instead."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        retry_after = _retry_after_of(retry_state)
        return retry_after is not None and retry_after > self.limit


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

    def backoff(self) -> wait_base:
        """The wait before retry ``n`` (0-based) without a ``Retry-After``: "equal jitter", i.e. of
        ``min(max_delay, base_delay * 2**n)`` half is fixed and half is random."""
        half, half_max = self.base_delay / 2, self.max_delay / 2
        return wait_exponential(multiplier=half, max=half_max) + wait_random_exponential(multiplier=half,
                                                                                         max=half_max)

    def retrying(self, *, sleep: Sleep = asyncio.sleep, retry: Callable[[BaseException], bool] = is_retryable,
                 before_sleep: Callable[[RetryCallState], None] | None = None) -> AsyncRetrying:
        """A fresh tenacity controller for one logical call (tenacity keeps per-call state on it, so one
        object must not serve two calls at once). It retries the exceptions ``retry`` accepts, waits
        ``Retry-After`` or the backoff, and re-raises the last exception when it gives up."""
        return AsyncRetrying(
            sleep=sleep,
            retry=retry_if_exception(retry),
            stop=stop_after_attempt(self.max_retries + 1) | stop_if_retry_after_exceeds(self.max_retry_after),
            wait=wait_retry_after(self.backoff()),
            before_sleep=before_sleep,
            reraise=True,
        )


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    what: str,
    policy: RetryPolicy | None = None,
    sleep: Sleep = asyncio.sleep,
    retry: Callable[[BaseException], bool] = is_retryable,
) -> T:
    """``await call()``, retried per ``policy`` while ``retry`` accepts the exception it raised.

    The exception of the last attempt surfaces unchanged: at once when ``retry`` rejects it, or once the
    attempts are used up or a ``Retry-After`` is too long to wait in-process. ``what`` names the call in logs.
    """
    policy = policy or RetryPolicy()

    def log_retry(state: RetryCallState) -> None:
        error = state.outcome.exception() if state.outcome is not None else None
        logger.info("{}: status={} — retry {}/{} in {:.2f}s", what, getattr(error, "status_code", None),
                    state.attempt_number, policy.max_retries, state.upcoming_sleep)

    controller = policy.retrying(sleep=sleep, retry=retry, before_sleep=log_retry)
    try:
        return await controller(call)
    except Exception as exc:
        if retry(exc):  # it was worth another try, but the attempts are used up or the wait is too long
            logger.warning("{}: giving up after {} attempt(s): status={} retry_after={}", what,
                           controller.statistics.get("attempt_number"), getattr(exc, "status_code", None),
                           getattr(exc, "retry_after", None))
        raise


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
    classify = classify or default_classify(service)
    path = _path_of(url)

    async def attempt() -> HttpResponse:
        if before_attempt is not None:
            await before_attempt()
        try:
            async with session.request(
                method, url, headers=headers, json=json_body, data=data, params=params,
                timeout=timeout, allow_redirects=False,
            ) as resp:
                body = await resp.read()
                response = HttpResponse(resp.status, resp.headers, body)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise UpstreamError(f"{service}: {type(exc).__name__} при запросе {method} {path}",
                                service=service, retryable=True) from exc
        if ok(response.status):
            return response
        raise classify(response)

    try:
        return await call_with_retries(attempt, what=f"{service} {method} {path}", policy=policy, sleep=sleep)
    except UpstreamError as error:
        if not error.retryable:
            logger.warning("{} {} {} rejected: status={}", service, method, path, error.status_code)
        raise


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
