"""The one sync → async bridge (``voronka.asyncbridge``): results, exceptions, timeouts, threads, shutdown."""

from __future__ import annotations

import asyncio
import ctypes
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from voronka.asyncbridge import AsyncBridge, BridgeClosed, shared_bridge


class Boom(Exception):
    pass


@pytest.fixture
def bridge() -> Iterator[AsyncBridge]:
    made = AsyncBridge(name="test-bridge")
    yield made
    made.close()


async def _value(value: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return value


def test_returns_the_result_and_starts_one_thread_lazily(bridge: AsyncBridge) -> None:
    assert not bridge.running
    assert bridge.run(_value(7)) == 7
    assert bridge.running
    names = [t.name for t in threading.enumerate() if t.name == "test-bridge"]
    assert bridge.run(_value(8)) == 8
    assert names == [t.name for t in threading.enumerate() if t.name == "test-bridge"] == ["test-bridge"]


def test_the_coroutines_exception_reaches_the_caller(bridge: AsyncBridge) -> None:
    async def fail() -> None:
        await asyncio.sleep(0)
        raise Boom("from the loop")

    with pytest.raises(Boom, match="from the loop"):
        bridge.run(fail())
    assert bridge.run(_value(1)) == 1  # the loop survives


def test_a_timeout_error_raised_by_the_coroutine_is_not_taken_for_the_deadline(bridge: AsyncBridge) -> None:
    async def own_timeout() -> None:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(5)

    with pytest.raises(TimeoutError) as caught:
        bridge.run(own_timeout(), timeout=10)
    assert "did not finish" not in str(caught.value)


def test_timeout_cancels_the_coroutine_before_raising(bridge: AsyncBridge) -> None:
    seen: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            seen.append("cancelled")
            raise
        finally:
            seen.append("cleaned up")

    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.2s"):
        bridge.run(slow(), timeout=0.2)
    assert time.monotonic() - started < 2
    assert seen == ["cancelled", "cleaned up"]


def test_many_threads_share_the_one_loop(bridge: AsyncBridge) -> None:
    loops: set[int] = set()

    async def where(i: int) -> int:
        loops.add(id(asyncio.get_running_loop()))
        await asyncio.sleep(0.05)
        return i

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(lambda i: bridge.run(where(i), timeout=5), range(64)))
    assert results == list(range(64))
    assert len(loops) == 1
    assert time.monotonic() - started < 3  # they waited concurrently, not 64 × 50 ms in a row


def test_calling_run_from_the_loop_itself_is_refused(bridge: AsyncBridge) -> None:
    async def nested() -> str:
        inner = _value(1)
        try:
            bridge.run(inner)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert "own event loop" in bridge.run(nested(), timeout=5)


def test_close_cancels_running_calls_joins_the_thread_and_refuses_new_ones() -> None:
    bridge = AsyncBridge(name="closing-bridge")
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    errors: list[BaseException] = []

    def call() -> None:
        try:
            bridge.run(forever())
        except BaseException as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.2)
    thread = bridge._thread
    assert thread is not None and thread.is_alive()
    bridge.close()
    caller.join(5)
    assert not thread.is_alive() and not caller.is_alive()
    assert cancelled.is_set() and len(errors) == 1
    with pytest.raises(BridgeClosed):
        bridge.run(_value(1))
    bridge.close()  # idempotent


def test_an_exception_delivered_to_the_waiting_thread_cancels_the_coroutine(bridge: AsyncBridge) -> None:
    """What Dramatiq's time limit does: raise an exception asynchronously in the worker thread."""
    cancelled = threading.Event()
    waiting = threading.Event()

    class TimeLimit(BaseException):
        pass

    async def slow() -> None:
        waiting.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            bridge.run(slow())
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    assert waiting.wait(5)
    assert thread.ident is not None
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(TimeLimit))
    thread.join(5)
    assert not thread.is_alive()
    assert outcome and isinstance(outcome[0], TimeLimit)
    assert cancelled.wait(2)


def test_the_shared_bridge_is_one_per_process() -> None:
    assert shared_bridge() is shared_bridge()
    assert shared_bridge().run(_value(3), timeout=5) == 3
