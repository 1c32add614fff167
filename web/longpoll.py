"""Wake long-polling site visitors when a reply is stored: one Redis pattern subscription per web process."""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from loguru import logger
from redis.asyncio import Redis

from pipelines.notify import SITE_PREFIX


class SiteNotifier:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self) -> None:
        self._task = asyncio.create_task(self._listen(), name="site-notifier")

    @property
    def stopping(self) -> bool:
        return self._stopping

    async def shutdown(self) -> None:
        """Server shutting down: release every waiting long-poll now (it answers with what it has)."""
        self._stopping = True
        for session_id in list(self._waiters):
            self.wake(session_id)

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            # redis' pubsub may hold the cancellation inside a read: never let shutdown hang on it
            await asyncio.wait({self._task}, timeout=3.0)

    async def _listen(self) -> None:
        while not self._stopping:
            pubsub = self._redis.pubsub()
            try:
                await pubsub.psubscribe(SITE_PREFIX + "*")
                while not self._stopping:
                    item = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if item is None or item.get("type") != "pmessage":
                        continue
                    channel = item["channel"].decode() if isinstance(item["channel"], bytes) else item["channel"]
                    self.wake(channel[len(SITE_PREFIX):])
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis restarted: waiters fall back to their periodic re-check
                logger.warning("site notifier lost Redis ({}); reconnecting", type(exc).__name__)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(pubsub.aclose(), 1.0)

    def wake(self, session_id: str) -> None:
        for event in self._waiters.get(session_id, ()):
            event.set()

    async def wait(self, session_id: str, timeout: float) -> None:
        """Return when something for this session was published, or after ``timeout`` seconds."""
        event = asyncio.Event()
        self._waiters[session_id].add(event)
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), timeout)
        finally:
            waiters = self._waiters.get(session_id)
            if waiters is not None:
                waiters.discard(event)
                if not waiters:
                    self._waiters.pop(session_id, None)
