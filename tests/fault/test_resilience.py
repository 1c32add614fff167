"""Proof of reliability with real processes: a worker SIGKILLed in the middle of several pipelines, Redis killed and
restarted under traffic, Postgres restarted under traffic. In every case each message a visitor managed to send is
answered in the end, and answered once (no reply is stored or sent twice).

These tests own their embedded Postgres and Valkey (not the session's), so restarting them disturbs nobody else.
A visitor behaves like the widget: it retries a failed POST with the same ``client_message_id``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
from aiohttp import ClientError
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

import db.embedded as embedded_mod
from db.embedded import EmbeddedServices
from db.engine import make_engine
from tests.support.processes import TEST_SECRET, VoronkaProcess

pytestmark = pytest.mark.fault


class Stack:
    """Own Postgres + Valkey (restartable on the same ports), the web app and worker/scheduler processes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.services = EmbeddedServices(root / "embedded", redis_persist=True)
        self.processes: list[VoronkaProcess] = []

    def start(self) -> None:
        from db.migrate import upgrade

        self.services.start()
        upgrade(self.services.database_url)

    @property
    def database_url(self) -> str:
        return self.services.database_url

    @property
    def redis_url(self) -> str:
        return self.services.redis_url

    def restart_redis(self, down_seconds: float) -> None:
        port = int(self.redis_url.rsplit(":", 1)[1].split("/", 1)[0])
        proc = self.services._redis_proc
        assert proc is not None
        proc.kill()  # SIGKILL: no clean shutdown, only what the append-only file already has
        proc.wait(timeout=10)
        self.services._redis_proc = None
        time.sleep(down_seconds)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(embedded_mod, "free_port", lambda host="127.0.0.1": port)
            self.services._start_redis()

    def restart_postgres(self, down_seconds: float) -> None:
        port = int(self.database_url.rsplit(":", 1)[1].split("/", 1)[0])
        self.services._stop_postgres()
        time.sleep(down_seconds)
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(embedded_mod, "free_port", lambda host="127.0.0.1": port)
            self.services._start_postgres()

    def process(self, command: str, ready: str, **env: str) -> VoronkaProcess:
        proc = VoronkaProcess(command, database_url=self.database_url, redis_url=self.redis_url, data_dir=self.root,
                              env={"VORONKA_INBOX_SWEEP_SECONDS": "3", **env}).start(ready_text=ready)
        self.processes.append(proc)
        return proc

    def stop(self) -> None:
        for proc in self.processes:
            proc.stop()
        self.services.stop()


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    created = Stack(tmp_path)
    created.start()
    yield created
    created.stop()


@pytest.fixture
async def stack_web(stack: Stack, tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    from voronka.settings import Settings
    from web.app import create_app
    from workers.broker import setup_broker

    settings = Settings(_env_file=None, ENVIRONMENT="test", DATABASE_URL=stack.database_url,  # type: ignore[call-arg]
                        REDIS_URL=stack.redis_url, VORONKA_DATA_DIR=tmp_path / "data", LOG_JSON=False,
                        LLM_PROVIDER="offline", JWT_SECRET_KEY=TEST_SECRET, RATE_LIMIT_PER_MINUTE=10_000)
    broker = setup_broker(settings, database_url=stack.database_url, redis_url=stack.redis_url)
    app = create_app(settings, database_url=stack.database_url, redis_url=stack.redis_url, broker=broker)
    async with TestClient(TestServer(app)) as client:
        yield client
    broker.close()


REFUSED: list[str] = []  # POSTs the server could not accept during a fault (the visitor retried them)


async def send(client: TestClient[Any, Any], session_id: str, text_: str, *, timeout: float = 60.0) -> int:
    """POST like the widget: retry with the same client_message_id until the server accepts it."""
    body = {"session_id": session_id, "text": text_, "client_message_id": f"{session_id}-1"}
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = await client.post("/api/v1/site/messages", json=body)
            if response.status == 202:
                return int((await response.json())["message_id"])
            REFUSED.append(f"{session_id}: {response.status}")
        except (TimeoutError, ClientError) as exc:
            REFUSED.append(f"{session_id}: {type(exc).__name__}")
        if time.monotonic() > deadline:
            raise AssertionError(f"{session_id}: the message was never accepted")
        await asyncio.sleep(0.3)


def replies_per_inbound(database_url: str) -> dict[str, list[int]]:
    """For every visitor: how many assistant replies follow each of their messages."""
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("""
                SELECT c.external_chat_id AS visitor, m.id,
                       (SELECT count(*) FROM messages o WHERE o.conversation_id = m.conversation_id
                          AND o.direction = 'out' AND o.role = 'assistant' AND o.id > m.id) AS replies,
                       (SELECT count(*) FROM outbox x WHERE x.conversation_id = m.conversation_id
                          AND x.kind = 'message' AND x.status = 'sent') AS sent,
                       (SELECT count(*) FROM messages o WHERE o.conversation_id = m.conversation_id
                          AND o.direction = 'out') AS outgoing
                FROM messages m JOIN conversations c ON c.id = m.conversation_id
                WHERE m.direction = 'in' ORDER BY m.id""")).all()
    finally:
        engine.dispose()
    found: dict[str, list[int]] = {}
    for row in rows:
        found.setdefault(row.visitor, []).append(int(row.replies))
        assert row.sent <= row.outgoing, "an outbox row was delivered without its message"
    return found


def duplicate_outbox_keys(database_url: str) -> int:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text(
                "SELECT count(*) FROM (SELECT message_id FROM outbox WHERE message_id IS NOT NULL "
                "GROUP BY message_id HAVING count(*) > 1) d")).scalar() or 0)
    finally:
        engine.dispose()


async def wait_all_answered(stack: Stack, visitors: list[str], timeout: float = 120.0) -> dict[str, list[int]]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = await asyncio.to_thread(replies_per_inbound, stack.database_url)
        except Exception:  # Postgres may still be starting
            found = {}
        if all(found.get(v) and all(n > 0 for n in found[v]) for v in visitors):
            return found
        if time.monotonic() > deadline:
            missing = [v for v in visitors if not found.get(v) or not all(n > 0 for n in found[v])]
            raise AssertionError(f"not answered: {missing}")
        await asyncio.sleep(0.5)


async def assert_answered_once(stack: Stack, stack_web: TestClient[Any, Any], visitors: list[str]) -> None:
    await wait_all_answered(stack, visitors)
    await asyncio.sleep(3)  # time for a wrongly repeated job to show up
    assert duplicate_outbox_keys(stack.database_url) == 0
    for visitor in visitors:
        response = await stack_web.get("/api/v1/site/messages", params={"session_id": visitor})
        messages = (await response.json())["messages"]
        assert [m["role"] for m in messages].count("client") == 1, visitor
        replies = [m["text"] for m in messages if m["role"] == "assistant"]
        assert replies and len(replies) == len(set(replies)), f"{visitor}: {replies}"


async def test_worker_killed_in_the_middle_of_several_pipelines(stack: Stack, stack_web) -> None:  # type: ignore[no-untyped-def]
    slow = stack.process("worker", "worker started", VORONKA_FAULT_PIPELINE_DELAY="30")
    visitors = [f"kill-{i}" for i in range(6)]
    for visitor in visitors:
        await send(stack_web, visitor, "Здравствуйте! Сколько стоит ИИ-юрист?")
    broker_redis = redis_lib.Redis.from_url(stack.redis_url)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # several jobs are in the worker's hands (unacknowledged)...
        in_flight = sum(broker_redis.scard(k) for k in broker_redis.keys("voronka:__acks__*inbound*"))
        if in_flight >= 3:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the worker never took the jobs")
    slow.kill()  # ...when it dies
    assert all(n == 0 for counts in replies_per_inbound(stack.database_url).values() for n in counts)
    stack.process("worker", "worker started")
    stack.process("scheduler", "scheduler started")
    await assert_answered_once(stack, stack_web, visitors)


async def test_redis_killed_and_restarted_under_traffic(stack: Stack, stack_web) -> None:  # type: ignore[no-untyped-def]
    stack.process("worker", "worker started")
    stack.process("scheduler", "scheduler started")
    visitors = [f"redis-{i}" for i in range(12)]

    async def traffic() -> None:
        for visitor in visitors:
            await send(stack_web, visitor, "Нужен ИИ-аналитик для отдела продаж")
            await asyncio.sleep(0.25)

    REFUSED.clear()
    sender = asyncio.create_task(traffic())
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.restart_redis, 2.0)
    await sender
    assert REFUSED, "the outage did not hit the traffic: the test proves nothing"
    await assert_answered_once(stack, stack_web, visitors)


async def test_postgres_restarted_under_traffic(stack: Stack, stack_web) -> None:  # type: ignore[no-untyped-def]
    stack.process("worker", "worker started")
    stack.process("scheduler", "scheduler started")
    visitors = [f"pg-{i}" for i in range(12)]

    async def traffic() -> None:
        for visitor in visitors:
            await send(stack_web, visitor, "Хочу ИИ-менеджера для Avito")
            await asyncio.sleep(0.25)

    REFUSED.clear()
    sender = asyncio.create_task(traffic())
    await asyncio.sleep(1.0)
    await asyncio.to_thread(stack.restart_postgres, 2.0)
    await sender
    assert REFUSED, "the outage did not hit the traffic: the test proves nothing"
    await assert_answered_once(stack, stack_web, visitors)
