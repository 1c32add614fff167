"""``voronka bot --polling`` (local development) as a real process: updates fetched with getUpdates go through the same
routers and inbox as the webhook (persisted, then queued) and a real worker answers through the Bot API fake."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import text

from tests.fakes.avito_fake import AvitoFake
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import tg_message, worker_env
from tests.support.processes import TEST_SECRET


class PollingTelegramFake(TelegramFake):
    """The Bot API fake plus ``getUpdates`` (long polling): the test puts updates in ``updates``."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []

    async def _dispatch(self, request: web.Request) -> web.Response:
        if request.match_info["method"].lower() == "getupdates":
            await asyncio.sleep(0.2)  # a long poll that returns early; keeps the client from spinning
        return await super()._dispatch(request)

    def _m_getupdates(self, params: dict[str, Any], files: dict[str, Any]) -> Any:
        if self.webhook:
            from tests.fakes.telegram_fake import _Fail

            raise _Fail(409, "Conflict: can't use getUpdates method while webhook is active")
        offset = int(params.get("offset") or 0)
        return [u for u in self.updates if u["update_id"] >= offset]


@pytest.fixture
async def polling_tg() -> AsyncIterator[PollingTelegramFake]:
    fake = PollingTelegramFake()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def avito_idle() -> AsyncIterator[AvitoFake]:
    async with AvitoFake() as fake:
        yield fake


async def test_polling_bot_persists_updates_and_the_worker_answers(  # type: ignore[no-untyped-def]
        services, tmp_path, clean_db, redis_client, start_worker, polling_tg, avito_idle, engine) -> None:
    env = worker_env(avito_idle, polling_tg)
    polling_tg.webhook = {"url": "https://old.example/hook"}  # polling removes a webhook first
    start_worker(**env)
    log_path = tmp_path / "bot.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "cli", "bot", "--polling", "--no-migrate"],
            env={**os.environ, **env, "DATABASE_URL": services[0], "REDIS_URL": services[1],
                 "VORONKA_DATA_DIR": str(tmp_path), "LOG_JSON": "false", "ENVIRONMENT": "test",
                 "JWT_SECRET_KEY": TEST_SECRET}, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while "bot started (long polling)" not in log_path.read_text(errors="replace"):
            assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "the bot did not start"
            await asyncio.sleep(0.1)
        assert polling_tg.webhook == {} and polling_tg.calls_of("deleteWebhook")
        update = tg_message(90001, "Здравствуйте! Сколько стоит ИИ-аналитик?")
        polling_tg.updates.append(update)
        deadline = time.monotonic() + 30
        while not polling_tg.texts(90001):
            assert time.monotonic() < deadline, log_path.read_text(errors="replace")[-3000:]
            await asyncio.sleep(0.1)
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT external_id FROM messages WHERE direction = 'in'")).scalars().all()
        assert stored == [f"u{update['update_id']}"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0, log_path.read_text(errors="replace")[-3000:]
