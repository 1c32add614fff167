"""A stand-in for ``asyncio.sleep`` injected into our clients: it records the waits and returns at once."""

from __future__ import annotations

import asyncio


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)
