"""Calling the async LLM router from the worker's sync threads.

The SDK clients inside the router (``openai.AsyncOpenAI``, ``anthropic.AsyncAnthropic``) keep an httpx connection
pool bound to the event loop that first used it. ``asyncio.run`` in every call would give each call a fresh loop and
the pooled connections of a closed one: every other call then fails with «Event loop is closed», and two worker
threads would share one client across two loops. So the router lives on ONE event loop in a daemon thread per
process, and sync code submits coroutines to it: connections are reused, the router's cool-down state is shared by
all threads, and a call that overruns its deadline is cancelled on that loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from pipelines.conversation import PipelineDeps

T = TypeVar("T")

_LOOP_KEY = "llm_loop"
_create_lock = threading.Lock()


class LoopThread:
    """An asyncio event loop running forever in a daemon thread."""

    def __init__(self, name: str = "llm-loop") -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._loop.is_closed()

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
        """The coroutine's result, run on the loop; ``TimeoutError`` (and the coroutine cancelled) after ``timeout``."""
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"LLM call did not finish within {timeout:.1f}s") from None

    def close(self) -> None:
        if self._loop.is_closed():
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        if not self._thread.is_alive():
            self._loop.close()


def llm_loop(deps: PipelineDeps) -> LoopThread:
    """The process's LLM loop, kept in ``deps.extras`` (created on first use)."""
    loop = deps.extras.get(_LOOP_KEY)
    if isinstance(loop, LoopThread) and loop.running:
        return loop
    with _create_lock:
        loop = deps.extras.get(_LOOP_KEY)
        if not (isinstance(loop, LoopThread) and loop.running):
            loop = LoopThread()
            deps.extras[_LOOP_KEY] = loop
        return loop


def run_llm(deps: PipelineDeps, coro: Coroutine[Any, Any, T], *, timeout: float) -> T:
    """Run ``coro`` (a call on ``deps.llm``) on the LLM loop from a sync thread; ``TimeoutError`` after ``timeout``."""
    return llm_loop(deps).run(coro, timeout=timeout)
