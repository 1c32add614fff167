"""The shared retry layer (integrations/http.py, on tenacity): Retry-After waits, backoff bounds, giving up.

``request_with_retries`` runs against a small scripted server built on the fakes' ``LocalServer``; the waits
go to an injected ``sleep`` that records them instead of sleeping.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
import pytest
from aiohttp import web
from tenacity import RetryCallState

from integrations.avito import AvitoRetryPolicy
from integrations.http import RetryPolicy, call_with_retries, request_with_retries
from tests.fakes.server import LocalServer
from voronka.errors import UpstreamError


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(float(seconds))


@dataclass
class ScriptedServer(LocalServer):
    """Answers ``GET /thing`` with the scripted ``(status, headers)`` in turn, then 200 ``{"ok": true}``."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    hits: int = 0

    def __post_init__(self) -> None:
        self.app = web.Application()
        self.app.router.add_get("/thing", self._thing)
        self._server = None

    async def _thing(self, request: web.Request) -> web.Response:
        self.hits += 1
        if self.script:
            status, headers = self.script.pop(0)
            return web.json_response({"error": status}, status=status, headers=headers)
        return web.json_response({"ok": True})


@pytest.fixture
async def server() -> AsyncIterator[ScriptedServer]:
    async with ScriptedServer() as fake:
        yield fake


async def test_retry_after_seconds_is_the_wait(server: ScriptedServer, http_session: aiohttp.ClientSession) -> None:
    server.script = [(503, {"Retry-After": "2"}), (429, {"Retry-After": "0"})]
    sleep = SleepRecorder()
    response = await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep)
    assert response.status == 200 and response.json() == {"ok": True}
    assert sleep.calls == [2.0, 0.0]
    assert server.hits == 3


async def test_retry_after_http_date_is_the_wait(server: ScriptedServer, http_session: aiohttp.ClientSession) -> None:
    when = datetime.now(UTC) + timedelta(seconds=5)
    server.script = [(429, {"Retry-After": format_datetime(when, usegmt=True)})]
    sleep = SleepRecorder()
    await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep)
    assert len(sleep.calls) == 1 and 3.0 <= sleep.calls[0] <= 5.0


async def test_backoff_without_retry_after_then_retry_after(server: ScriptedServer,
                                                            http_session: aiohttp.ClientSession) -> None:
    server.script = [(500, {}), (502, {}), (429, {"Retry-After": "3"})]
    sleep = SleepRecorder()
    await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep)
    assert 0.25 <= sleep.calls[0] <= 0.5 <= sleep.calls[1] <= 1.0  # equal jitter on 0.5 s, 1 s
    assert sleep.calls[2] == 3.0


async def test_gives_up_after_max_retries_with_the_last_error(server: ScriptedServer,
                                                              http_session: aiohttp.ClientSession) -> None:
    no_headers: dict[str, str] = {}
    server.script = [(500, no_headers)] * 3 + [(503, no_headers)] * 3
    sleep = SleepRecorder()
    with pytest.raises(UpstreamError) as info:
        await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep,
                                   policy=RetryPolicy(max_retries=3))
    assert info.value.retryable is True and info.value.status_code == 503  # the 4th answer, not a RetryError
    assert server.hits == 4 and len(sleep.calls) == 3


async def test_too_long_retry_after_is_raised_for_the_queue(server: ScriptedServer,
                                                            http_session: aiohttp.ClientSession) -> None:
    server.script = [(429, {"Retry-After": "61"})]
    sleep = SleepRecorder()
    with pytest.raises(UpstreamError) as info:
        await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep,
                                   policy=RetryPolicy(max_retry_after=60))
    assert info.value.retryable is True and info.value.retry_after == 61.0
    assert server.hits == 1 and sleep.calls == []


@pytest.mark.parametrize("status", [400, 401, 404, 409, 422])
async def test_client_errors_are_not_retried(server: ScriptedServer, http_session: aiohttp.ClientSession,
                                             status: int) -> None:
    server.script = [(status, {"Retry-After": "1"})]
    sleep = SleepRecorder()
    with pytest.raises(UpstreamError) as info:
        await request_with_retries(http_session, "GET", server.root_url + "/thing", service="test", sleep=sleep)
    assert info.value.retryable is False and info.value.status_code == status
    assert server.hits == 1 and sleep.calls == []


async def test_connection_errors_are_retried_then_surface_retryable(http_session: aiohttp.ClientSession) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sleep = SleepRecorder()
    with pytest.raises(UpstreamError) as info:
        await request_with_retries(http_session, "GET", f"http://127.0.0.1:{port}/thing", service="test", sleep=sleep,
                                   policy=RetryPolicy(max_retries=2))
    assert info.value.retryable is True and info.value.status_code is None
    assert isinstance(info.value.__cause__, aiohttp.ClientError)
    assert len(sleep.calls) == 2


async def test_concurrent_calls_keep_their_own_attempt_counts(server: ScriptedServer,
                                                              http_session: aiohttp.ClientSession) -> None:
    server.script = [(500, {})] * 3  # however they fall, no call meets more than 3 of them
    sleep = SleepRecorder()
    policy = RetryPolicy(max_retries=3)
    url = server.root_url + "/thing"
    responses = await asyncio.gather(*(request_with_retries(http_session, "GET", url, service="test", sleep=sleep,
                                                            policy=policy) for _ in range(3)))
    assert [r.status for r in responses] == [200, 200, 200]
    assert server.hits == 6 and len(sleep.calls) == 3


# --- call_with_retries and the backoff strategies, without HTTP -----------------------------------------------


async def test_call_with_retries_custom_predicate_and_unchanged_errors() -> None:
    sleep = SleepRecorder()
    errors: list[BaseException] = [UpstreamError("busy", service="x", status_code=429, retry_after=1.5),
                                   UpstreamError("flaky", service="x", status_code=500),
                                   UpstreamError("net", service="x")]  # retryable, but the predicate says no

    async def call() -> str:
        raise errors.pop(0)

    with pytest.raises(UpstreamError) as info:
        await call_with_retries(call, what="test", sleep=sleep,
                                retry=lambda exc: isinstance(exc, UpstreamError) and exc.status_code is not None)
    assert info.value.message == "net" and errors == []
    assert sleep.calls[0] == 1.5 and 0.5 <= sleep.calls[1] <= 1.0  # the 2nd retry's backoff


async def test_call_with_retries_lets_other_exceptions_through_and_returns_results() -> None:
    sleep = SleepRecorder()
    outcomes: list[object] = [UpstreamError("once", service="x"), "done"]

    async def call() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    assert await call_with_retries(call, what="test", sleep=sleep) == "done"

    async def broken() -> None:
        raise KeyError("bug")

    with pytest.raises(KeyError):
        await call_with_retries(broken, what="test", sleep=sleep)
    assert len(sleep.calls) == 1


def waits(policy: RetryPolicy, retry_number: int, samples: int = 300) -> list[float]:
    strategy = policy.backoff()
    state = RetryCallState(None, None, (), {})  # type: ignore[arg-type]
    state.attempt_number = retry_number + 1  # tenacity counts the failed attempt, 1-based
    return [strategy(state) for _ in range(samples)]


def test_default_backoff_is_equal_jitter_capped() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=8.0)
    for retry_number, capped in enumerate([0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]):
        values = waits(policy, retry_number)
        assert all(capped / 2 <= v <= capped for v in values)
        assert max(values) - min(values) > capped / 4  # really random


def test_avito_backoff_is_plus_minus_twenty_percent() -> None:
    policy = AvitoRetryPolicy(max_delay=8.0)
    for retry_number, base in enumerate([1.0, 2.0, 4.0, 8.0, 8.0]):
        values = waits(policy, retry_number)
        assert all(base * 0.8 <= v <= base * 1.2 for v in values)
        assert min(values) < base < max(values)
