"""A site visitor's message travels the full real path: received → persisted → queued → real worker → reply
stored → visible through the long-poll GET. Real embedded Postgres and Redis, a real Dramatiq worker process."""

from __future__ import annotations

import asyncio
import re
import time

import redis as redis_lib
from sqlalchemy import text

from workers.enqueue import enqueue

CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


async def post(client, session_id: str, text_: str, **extra):  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/messages", json={"session_id": session_id, "text": text_, **extra})
    return response.status, await response.json()


async def wait_reply(client, session_id: str, timeout: float = 30.0) -> list[dict]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        response = await client.get("/api/v1/site/messages", params={"session_id": session_id, "wait": "10"})
        assert response.status == 200
        messages = (await response.json())["messages"]
        if any(m["role"] == "assistant" for m in messages):
            return messages
    raise AssertionError("no reply from the assistant")


def assistant_texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages if m["role"] == "assistant"]


async def test_visitor_gets_a_russian_reply_through_long_poll(client, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    status, body = await post(client, "visitor-1", "Здравствуйте")
    assert status == 202 and isinstance(body["message_id"], int)
    started = time.monotonic()
    messages = await wait_reply(client, "visitor-1")
    assert time.monotonic() - started < 10
    assert messages[0]["role"] == "client" and messages[0]["text"] == "Здравствуйте"
    replies = assistant_texts(messages)
    assert replies and all(CYRILLIC.search(t) for t in replies)
    # "after" hides what the visitor has already seen
    last = messages[-1]["id"]
    response = await client.get("/api/v1/site/messages", params={"session_id": "visitor-1", "after": str(last)})
    assert (await response.json())["messages"] == []
    # another visitor sees nothing of this conversation
    response = await client.get("/api/v1/site/messages", params={"session_id": "visitor-2"})
    assert (await response.json())["messages"] == []


async def test_repeated_client_message_id_is_processed_once(client, start_worker, engine) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    first = await post(client, "dup-1", "Сколько стоит ИИ-юрист?", client_message_id="m-1")
    second = await post(client, "dup-1", "Сколько стоит ИИ-юрист?", client_message_id="m-1")
    assert first[0] == second[0] == 202
    assert first[1]["message_id"] == second[1]["message_id"]
    messages = await wait_reply(client, "dup-1")
    await asyncio.sleep(1.5)  # give a wrongly duplicated job time to show up
    response = await client.get("/api/v1/site/messages", params={"session_id": "dup-1"})
    messages = (await response.json())["messages"]
    assert [m["text"] for m in messages if m["role"] == "client"] == ["Сколько стоит ИИ-юрист?"]
    replies = assistant_texts(messages)
    assert replies and len(replies) == len(set(replies))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages WHERE direction = 'in'")).scalar() == 1


async def test_worker_killed_mid_job_still_answers_exactly_once(client, start_worker, redis_url, engine) -> None:  # type: ignore[no-untyped-def]
    slow = start_worker(VORONKA_FAULT_PIPELINE_DELAY="30")
    status, body = await post(client, "kill-1", "Здравствуйте, актуально?")
    assert status == 202
    broker_redis = redis_lib.Redis.from_url(redis_url)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the job is in the worker's hands (unacknowledged) ...
        if any(broker_redis.scard(key) for key in broker_redis.keys("voronka:__acks__*inbound*")):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the worker never picked the job up")
    await asyncio.sleep(0.5)
    slow.kill()  # ... when it dies with SIGKILL
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM messages WHERE direction = 'out'")).scalar() == 0
    start_worker()
    messages = await wait_reply(client, "kill-1", timeout=60)
    await asyncio.sleep(2)
    response = await client.get("/api/v1/site/messages", params={"session_id": "kill-1"})
    messages = (await response.json())["messages"]
    replies = assistant_texts(messages)
    assert replies and len(replies) == len(set(replies))
    with engine.connect() as conn:
        row = conn.execute(text("SELECT processed_at, attempts FROM messages WHERE id = :id"),
                           {"id": body["message_id"]}).one()
    assert row.processed_at is not None


async def test_sweeper_recovers_a_message_lost_from_redis(client, start_worker, redis_client, broker) -> None:  # type: ignore[no-untyped-def]
    status, _ = await post(client, "lost-1", "Хочу ИИ-аналитика")
    assert status == 202
    redis_client.flushall()  # the queued job is gone; the inbox row in Postgres is not
    start_worker(VORONKA_INBOX_SWEEP_SECONDS="1")
    await asyncio.sleep(1.2)
    response = await client.get("/api/v1/site/messages", params={"session_id": "lost-1", "wait": "1"})
    assert assistant_texts((await response.json())["messages"]) == []
    enqueue(broker, "maintenance.sweep")  # what the scheduler does every few seconds
    messages = await wait_reply(client, "lost-1")
    assert assistant_texts(messages)
