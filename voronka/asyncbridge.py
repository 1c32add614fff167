"""Calling async code from sync threads: ONE event loop per process, in a daemon thread.

Dramatiq runs actors in worker threads with synchronous sessions, while the clients they use (the LLM router, Avito,
Telegram, amoCRM, Google Calendar, YooKassa, SMTP) are async. ``asyncio.run`` per call would give every call a fresh
loop: clients that pool connections per loop (httpx inside the OpenAI/Anthropic SDKs, aiohttp sessions, async Redis)
would then hold connections of a closed loop («Event loop is closed»), and a loop per thread would split shared state
(the LLM router's cool-downs, the amoCRM limiter) across threads. So every sync caller submits its coroutine to the
process's one loop:

    result = shared_bridge().run(client.call(), timeout=10)

- the result comes back, or the coroutine's exception is raised in the calling thread;
- after ``timeout`` seconds the coroutine is cancelled on the loop (its ``finally`` blocks run) and ``TimeoutError``
  is raised; ``timeout=None`` leaves the deadline to the coroutine (the clients bound their own requests);
- the caller waits in short slices, so an exception delivered to its thread while it waits (Dramatiq's time limit,
  a shutdown) interrupts the wait and cancels the coroutine too;
- any number of threads may call ``run`` at once; calling it from the bridge's own loop raises (it would deadlock);
- ``close`` cancels what is still running, stops the loop and joins its thread; it also runs at interpreter exit.

Imports nothing of ours: any layer may use it.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import os
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_WAIT_SLICE = 0.2  # seconds between checks of a waiting caller (lets async exceptions reach its thread)


class BridgeClosed(RuntimeError):
    """The bridge was closed: no more coroutines run on it."""


class AsyncBridge:
    """An asyncio event loop running forever in a daemon thread, started on the first ``run``."""

    def __init__(self, name: str = "voronka-async", *, cancel_grace: float = 2.0) -> None:
        self.name = name
        self.cancel_grace = cancel_grace  # how long a timed-out caller waits for the cancelled coroutine to end
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    # --- the loop ------------------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        thread = self._thread
        return not self._closed and thread is not None and thread.is_alive()

    @property
    def closed(self) -> bool:
        return self._closed

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                raise BridgeClosed(f"async bridge {self.name!r} is closed")
            if self._loop is None:
                loop = asyncio.new_event_loop()
                started = threading.Event()
                thread = threading.Thread(target=self._serve, args=(loop, started), name=self.name, daemon=True)
                thread.start()
                started.wait()
                self._loop, self._thread = loop, thread
            elif self._thread is None or not self._thread.is_alive():  # e.g. in a forked child
                raise BridgeClosed(f"async bridge {self.name!r} has no running loop thread")
            return self._loop

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop, started: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(started.set)
        try:
            loop.run_forever()
        finally:
            try:
                loop.run_until_complete(_cancel_all(loop))
                loop.run_until_complete(loop.shutdown_asyncgens())
            finally:
                loop.close()

    def in_loop_thread(self) -> bool:
        return self._thread is not None and threading.current_thread() is self._thread

    # --- calls ---------------------------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T], *, timeout: float | None = None) -> T:
        """The coroutine's result, run on the bridge's loop from a sync thread (see the module docstring)."""
        if self.in_loop_thread():
            coro.close()
            raise RuntimeError("AsyncBridge.run called from its own event loop: await the coroutine instead")
        try:
            loop = self._ensure_loop()
        except BaseException:
            coro.close()
            raise
        finished = threading.Event()
        future = asyncio.run_coroutine_threadsafe(_tracked(coro, finished), loop)
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wait = _WAIT_SLICE if deadline is None else min(_WAIT_SLICE, max(0.0, deadline - time.monotonic()))
                try:
                    return future.result(wait)
                except concurrent.futures.TimeoutError:  # also the coroutine's own TimeoutError: check done()
                    if future.done():
                        return future.result()
                    if deadline is not None and time.monotonic() >= deadline:
                        raise TimeoutError(f"async call did not finish within {timeout:.1f}s") from None
                    if self._closed:
                        raise BridgeClosed(f"async bridge {self.name!r} closed during the call") from None
        except BaseException:
            if not future.done():
                future.cancel()
                finished.wait(self.cancel_grace)
            raise

    def close(self, timeout: float = 5.0) -> None:
        """Cancel the running coroutines, stop the loop and join its thread. Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if self.in_loop_thread():
            raise RuntimeError("AsyncBridge.close called from its own event loop")
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(timeout)


async def _tracked(coro: Coroutine[Any, Any, T], finished: threading.Event) -> T:
    try:
        return await coro
    finally:
        finished.set()


async def _cancel_all(loop: asyncio.AbstractEventLoop) -> None:
    current = asyncio.current_task(loop)
    tasks = [task for task in asyncio.all_tasks(loop) if task is not current and not task.done()]
    for task in tasks:
        task.cancel()
    if tasks:
        await asyncio.wait(tasks, timeout=2.0)


# --- the process's bridge ------------------------------------------------------------------------------------------

_shared: AsyncBridge | None = None
_shared_lock = threading.Lock()


def shared_bridge() -> AsyncBridge:
    """The process's bridge (created on first use; a new one after ``close`` or in a forked child)."""
    global _shared
    bridge = _shared
    if bridge is not None and not bridge.closed:
        return bridge
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = AsyncBridge()
        return _shared


def close_shared_bridge() -> None:
    """Close the process's bridge (at interpreter exit, or by a process that shuts its runtime down)."""
    bridge = _shared
    if bridge is not None:
        bridge.close()


def _forget_in_child() -> None:
    global _shared, _shared_lock
    _shared, _shared_lock = None, threading.Lock()  # the loop thread did not survive the fork


atexit.register(close_shared_bridge)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_in_child)
