"""``voronka avito ...`` / ``voronka telegram ...`` as real subprocesses against the fakes, the start-up subscription
check, the Avito token job and the item → product mapping."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import aiohttp
import pytest

from integrations.avito import AvitoClient
from pipelines.channels.tokens import keep_token_fresh
from tests.fakes.avito_fake import AvitoFake
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import AVITO_SECRET, TG_SECRET, channel_values
from tests.support.processes import TEST_SECRET
from web.routes.webhooks_avito import check_subscription, webhook_url
from workers.periodic import TOKEN_CHECK_SECONDS, periodic_jobs

PUBLIC = "https://voronka.example"


async def voronka(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "cli", *args, env=env, stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


@pytest.fixture
def cli_env(services, tmp_path, avito_fake, tg_fake) -> dict[str, str]:  # type: ignore[no-untyped-def]
    values = {k: str(v) for k, v in channel_values(avito_fake, tg_fake).items()}
    return {**os.environ, **values, "DATABASE_URL": services[0], "REDIS_URL": services[1],
            "VORONKA_DATA_DIR": str(tmp_path), "LOG_JSON": "false", "ENVIRONMENT": "test",
            "JWT_SECRET_KEY": TEST_SECRET, "TELEGRAM_WEBHOOK_URL": PUBLIC + "/api/v1/webhooks/telegram"}


async def test_avito_subscribe_list_unsubscribe_and_startup_check(  # type: ignore[no-untyped-def]
        cli_env, settings, avito_fake: AvitoFake, tg_fake, aredis) -> None:
    settings = settings.model_copy(update=channel_values(avito_fake, tg_fake))
    wanted = webhook_url(settings)
    assert wanted == f"{PUBLIC}/api/v1/webhooks/avito/messages/{AVITO_SECRET}"
    assert await check_subscription(settings, aredis) is False  # warned: Avito does not send us anything
    code, out, err = await voronka(cli_env, "avito", "subscribe")
    assert code == 0, err
    assert "оформлена" in out
    assert [s["url"] for s in avito_fake.subscriptions] == [wanted]
    assert await check_subscription(settings, aredis) is True
    code, out, err = await voronka(cli_env, "avito", "subscriptions")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["ours_active"] is True
    assert AVITO_SECRET not in out  # the secret is not printed
    code, out, err = await voronka(cli_env, "avito", "unsubscribe")
    assert code == 0 and avito_fake.subscriptions == []


async def test_avito_subscribe_refuses_a_plain_http_url(cli_env) -> None:  # type: ignore[no-untyped-def]
    code, _out, err = await voronka({**cli_env, "VORONKA_PUBLIC_URL": "http://localhost:8080"}, "avito", "subscribe")
    assert code == 1 and "https" in err


async def test_telegram_webhook_commands(cli_env, tg_fake: TelegramFake) -> None:  # type: ignore[no-untyped-def]
    code, out, err = await voronka(cli_env, "telegram", "set-webhook")
    assert code == 0, err
    assert tg_fake.webhook == {"url": PUBLIC + "/api/v1/webhooks/telegram", "secret_token": TG_SECRET,
                               "allowed_updates": ["message", "callback_query"]}
    code, out, err = await voronka(cli_env, "telegram", "info")
    assert code == 0, err
    info = json.loads(out)
    assert info["webhook"]["url"] == PUBLIC + "/api/v1/webhooks/telegram"
    assert info["bot"]["username"] == tg_fake.username
    code, out, err = await voronka(cli_env, "telegram", "delete-webhook")
    assert code == 0 and tg_fake.webhook == {}


async def test_item_mapping_commands(cli_env, clean_db) -> None:  # type: ignore[no-untyped-def]
    code, out, err = await voronka(cli_env, "avito", "map", "4242", "ai_analyst")
    assert code == 0, err
    code, out, err = await voronka(cli_env, "avito", "items")
    assert code == 0, err
    assert json.loads(out) == [{"item_id": "4242", "title": "", "product": "ai_analyst", "source": "manual"}]
    code, out, err = await voronka(cli_env, "avito", "map", "4242", "robot")
    assert code != 0


async def test_token_job_refreshes_at_least_an_hour_before_expiry(  # type: ignore[no-untyped-def]
        avito_fake: AvitoFake, tg_fake, aredis, settings) -> None:
    config: Any = settings.model_copy(update=channel_values(avito_fake, tg_fake))
    async with aiohttp.ClientSession() as session:
        client = AvitoClient(config, session=session, redis=aredis)
        assert await keep_token_fresh(client, within=TOKEN_CHECK_SECONDS) is True  # no token yet
        assert await keep_token_fresh(client, within=TOKEN_CHECK_SECONDS) is False  # a fresh one: nothing to do
        calls = avito_fake.token_calls
        # the token is 1 h 5 min from expiry: the next check (10 min later) would be inside the last hour
        stored = json.loads(await aredis.get("voronka:avito:token"))
        await aredis.set("voronka:avito:token", json.dumps(stored), px=(3600 + 300) * 1000)
        assert await keep_token_fresh(client, within=TOKEN_CHECK_SECONDS) is True
        assert avito_fake.token_calls == calls + 1
        assert await aredis.pttl("voronka:avito:token") > 86000 * 1000


def test_token_job_is_scheduled_only_when_avito_is_configured(settings) -> None:  # type: ignore[no-untyped-def]
    assert "avito.refresh_token" not in [j.actor_name for j in periodic_jobs(settings)]
    configured = settings.model_copy(update={"AVITO_CLIENT_ID": "id", "AVITO_CLIENT_SECRET": "s",
                                             "AVITO_USER_ID": "1"})
    job = next(j for j in periodic_jobs(configured) if j.actor_name == "avito.refresh_token")
    assert job.seconds == TOKEN_CHECK_SECONDS <= 3600
