"""What the LLM fakes share: a scripted fault queue, a scripted answer queue, request recording, a local server.

A test scripts what the next requests meet, in order::

    fake.fail_next(status=500)           # the next request gets a 500 with the provider's error body
    fake.rate_limit_next(retry_after=1)  # ... a 429 with ``retry-after: 1``
    fake.delay_next(5.0)                 # ... waits 5 s before any byte of the response
    fake.stall_stream_next(5.0)          # ... (streams) sends headers, then waits 5 s before the first token
    fake.answer_next("Текст", input_tokens=10, output_tokens=5)

Faults are consumed by requests that passed authentication and validation (as the real APIs check those first).
"""

from __future__ import annotations

import asyncio
import math
import re
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}


@dataclass(frozen=True)
class Fault:
    """``status`` set: answer with that error. ``delay``: wait first. ``stall``: streams wait after the headers."""

    status: int | None = None
    message: str | None = None
    error_type: str | None = None
    code: str | None = None
    retry_after: float | None = None
    delay: float = 0.0
    stall: float = 0.0


@dataclass(frozen=True)
class ScriptedAnswer:
    text: str
    input_tokens: int | None = None
    output_tokens: int | None = None


def approx_tokens(text: str) -> int:
    """A deterministic stand-in for a tokenizer: about four characters per token."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


def split_pieces(text: str) -> list[str]:
    """The text in stream-sized pieces (a word with its trailing space); joined they give the text back."""
    return re.findall(r"\S+\s*|\s+", text) or [text]


@dataclass
class ScriptedFake:
    api_keys: set[str] = field(default_factory=lambda: {"test-key"})
    default_answer: str = "Здравствуйте! Чем могу помочь?"
    default_json_answer: str = '{"ok": true}'
    host: str = "127.0.0.1"
    requests: list[RecordedRequest] = field(default_factory=list)
    _faults: deque[Fault] = field(default_factory=deque)
    _answers: deque[ScriptedAnswer] = field(default_factory=deque)
    _runner: web.AppRunner | None = None
    _port: int = 0
    _closing: asyncio.Event | None = None

    # --- scripting ------------------------------------------------------------------------------------------

    def fail_next(self, status: int = 500, *, times: int = 1, message: str | None = None,
                  error_type: str | None = None, code: str | None = None,
                  retry_after: float | None = None) -> None:
        for _ in range(times):
            self._faults.append(Fault(status=status, message=message, error_type=error_type, code=code,
                                      retry_after=retry_after))

    def rate_limit_next(self, retry_after: float | None = 1, *, times: int = 1) -> None:
        self.fail_next(429, times=times, retry_after=retry_after)

    def delay_next(self, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self._faults.append(Fault(delay=seconds))

    def stall_stream_next(self, seconds: float, *, times: int = 1) -> None:
        for _ in range(times):
            self._faults.append(Fault(stall=seconds))

    def answer_next(self, text: str, *, input_tokens: int | None = None, output_tokens: int | None = None) -> None:
        self._answers.append(ScriptedAnswer(text, input_tokens, output_tokens))

    def reset(self) -> None:
        self._faults.clear()
        self._answers.clear()
        self.requests.clear()

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    # --- used by the handlers -------------------------------------------------------------------------------

    async def record(self, request: web.Request) -> RecordedRequest:
        raw = await request.read()
        body: Any
        try:
            body = await request.json() if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        recorded = RecordedRequest(request.method, request.path, dict(request.headers), body)
        self.requests.append(recorded)
        return recorded

    def next_fault(self) -> Fault | None:
        return self._faults.popleft() if self._faults else None

    def next_answer(self, *, json_mode: bool = False) -> ScriptedAnswer:
        if self._answers:
            return self._answers.popleft()
        return ScriptedAnswer(self.default_json_answer if json_mode else self.default_answer)

    async def pause(self, seconds: float) -> None:
        """Sleep, but wake at once when the fake shuts down (so a test never waits on a stalled handler)."""
        if seconds <= 0:
            return
        closing = self._closing
        if closing is None:
            await asyncio.sleep(seconds)
            return
        try:
            await asyncio.wait_for(closing.wait(), seconds)
        except TimeoutError:
            return

    @staticmethod
    def request_id(prefix: str) -> str:
        return f"{prefix}{uuid.uuid4().hex[:24]}"

    # --- server ---------------------------------------------------------------------------------------------

    def build_app(self) -> web.Application:
        raise NotImplementedError

    @property
    def origin(self) -> str:
        if not self._port:
            raise RuntimeError("the fake is not started")
        return f"http://{self.host}:{self._port}"

    async def start(self) -> str:
        self._closing = asyncio.Event()
        self._runner = web.AppRunner(self.build_app(), handler_cancellation=True, access_log=None,
                                     shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self._port = self._runner.addresses[0][1]
        return self.origin

    async def close(self) -> None:
        if self._closing is not None:
            self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def retry_after_headers(fault: Fault) -> dict[str, str]:
    if fault.retry_after is None:
        return {}
    value = fault.retry_after
    return {"retry-after": str(int(value)) if float(value).is_integer() else str(value)}


def as_keys(keys: Iterable[str] | str) -> set[str]:
    return {keys} if isinstance(keys, str) else set(keys)
