"""External services failing half of the time: every client message still gets its reply, each exactly once.

Avito answers every second call with 500 (sends, chat look-ups, marking read); our client retries with backoff and
the queue retries what is left. Each message must be answered at the fake exactly once, and nothing is lost.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import text

from tests.fakes.avito_fake import AvitoFake
from tests.support.channels import AVITO_PATH, AVITO_SECRET, avito_event, worker_env

CHATS = [f"flaky-{n}" for n in range(6)]
pytestmark = [pytest.mark.fault, pytest.mark.channel_fakes]


async def test_avito_failing_half_the_time_loses_nothing_and_sends_nothing_twice(  # type: ignore[no-untyped-def]
        client, start_worker, avito_fake: AvitoFake, tg_fake, engine) -> None:
    start_worker(**worker_env(avito_fake, tg_fake), VORONKA_INBOX_SWEEP_SECONDS="2")
    avito_fake.flaky("/accounts/", status=500, every=2)  # half of all Messenger calls fail
    for chat in CHATS:
        avito_fake.add_chat(chat)
        response = await client.post(AVITO_PATH + AVITO_SECRET, json=avito_event(chat, "Здравствуйте, актуально?"))
        assert response.status == 200
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            pending = conn.execute(text(
                "SELECT count(*) FROM outbox WHERE kind = 'message' AND status <> 'sent'")).scalar()
            processed = conn.execute(text(
                "SELECT count(*) FROM messages WHERE direction = 'in' AND processed_at IS NOT NULL")).scalar()
        if processed == len(CHATS) and pending == 0 and all(avito_fake.sent_texts(c) for c in CHATS):
            break
        await asyncio.sleep(0.5)
    else:
        raise AssertionError(f"not everything answered: processed={processed}, pending outbox={pending}")
    failures = [r for r in avito_fake.requests if r.status == 500]
    assert failures, "the fake never failed: the test proves nothing"
    with engine.connect() as conn:
        expected: dict[str, Any] = dict(conn.execute(text(
            "SELECT c.external_chat_id, count(*) FROM outbox o JOIN conversations c ON c.id = o.conversation_id "
            "WHERE o.kind = 'message' GROUP BY c.external_chat_id")).all())
    for chat in CHATS:
        texts = avito_fake.sent_texts(chat)
        # each reply was delivered once (parts of a long reply are distinct texts): no text twice
        assert texts and max(Counter(texts).values()) == 1, (chat, texts)
        assert expected[chat] >= 1
