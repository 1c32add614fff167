"""The real Google Calendar client against the local fake (its token endpoint verifies our JWT); slots."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.gcal import GoogleAPIError, GoogleCalendarClient, ServiceAccount, free_slots
from tests.fakes.gcal_fake import GoogleCalendarFake
from voronka.errors import NotConfigured
from voronka.settings import Settings

MSK = ZoneInfo("Europe/Moscow")
MONDAY = datetime(2030, 3, 4, tzinfo=MSK)  # a Monday
Fake = GoogleCalendarFake
Client = GoogleCalendarClient
EMAIL = "voronka@voronka-test.iam.gserviceaccount.com"


def _pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
async def gcal_fake(key: rsa.RSAPrivateKey) -> AsyncIterator[GoogleCalendarFake]:
    async with GoogleCalendarFake(public_key=key.public_key(), client_email=EMAIL,
                                  calendar_id="sales@voronka.ai") as server:
        yield server


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def gcal_client(gcal_fake: GoogleCalendarFake, key: rsa.RSAPrivateKey) -> AsyncIterator[GoogleCalendarClient]:
    account = ServiceAccount(EMAIL, _pem(key), gcal_fake.token_uri, "kid-1")
    async with GoogleCalendarClient(account, api_url=gcal_fake.api_url, calendar_id="sales@voronka.ai",
                                    sleep=SleepRecorder()) as c:
        yield c


def at(day: datetime, hour: int, minute: int = 0, days: int = 0) -> datetime:
    return (day + timedelta(days=days)).replace(hour=hour, minute=minute)


async def test_token_is_obtained_once_and_cached(gcal_fake: Fake, gcal_client: Client) -> None:
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    assert len(gcal_fake.calls("/token")) == 1
    assert [r.status for r in gcal_fake.calls("/freeBusy")] == [200, 200]
    token_request = gcal_fake.calls("/token")[0]
    assert token_request.body["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"


async def test_expired_token_is_refreshed_once(gcal_fake: Fake, gcal_client: Client) -> None:
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    gcal_fake.expire_tokens()
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    assert len(gcal_fake.calls("/token")) == 2
    assert [r.status for r in gcal_fake.calls("/freeBusy")] == [200, 401, 200]


async def test_key_not_matching_is_rejected_without_retry(gcal_fake: GoogleCalendarFake) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    account = ServiceAccount(EMAIL, _pem(other), gcal_fake.token_uri)
    async with GoogleCalendarClient(account, api_url=gcal_fake.api_url, calendar_id="sales@voronka.ai",
                                    sleep=SleepRecorder()) as c:
        with pytest.raises(GoogleAPIError) as info:
            await c.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    assert info.value.retryable is False
    assert info.value.status_code == 400 and info.value.reason == "invalid_grant"
    assert len(gcal_fake.requests) == 1


async def test_free_busy_returns_stored_events(gcal_fake: Fake, gcal_client: Client) -> None:
    gcal_fake.add_event(at(MONDAY, 12), at(MONDAY, 13, 30))
    gcal_fake.add_event(at(MONDAY, 15), at(MONDAY, 16), summary="Созвон")
    gcal_fake.add_event(at(MONDAY, 12, days=3), at(MONDAY, 13, days=3))  # outside the asked range
    busy = await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    assert busy == [(at(MONDAY, 12), at(MONDAY, 13, 30)), (at(MONDAY, 15), at(MONDAY, 16))]
    assert gcal_fake.calls("/freeBusy")[0].body["items"] == [{"id": "sales@voronka.ai"}]


async def test_book_a_free_slot_then_it_is_no_longer_offered(
        gcal_fake: GoogleCalendarFake, gcal_client: GoogleCalendarClient) -> None:
    gcal_fake.add_event(at(MONDAY, 10), at(MONDAY, 12))
    now = at(MONDAY, 8)
    busy = await gcal_client.free_busy(now, now + timedelta(days=7))
    slots = free_slots(busy, now=now, days=7, work_days=["1", "2", "3", "4", "5"], work_hours="10:00-19:00",
                       slot_minutes=60, min_notice_hours=2, limit=3)
    assert slots == [at(MONDAY, 12), at(MONDAY, 13), at(MONDAY, 14)]
    event = await gcal_client.insert_event("Консультация: ИИ-Юрист", "Клиент: Анна, +7 916 123-45-67",
                                      slots[0], slots[0] + timedelta(hours=1))
    assert event["htmlLink"].endswith(event["id"])
    stored = gcal_fake.events[event["id"]]
    assert stored["summary"] == "Консультация: ИИ-Юрист"
    assert stored["reminders"] == {"useDefault": False, "overrides": [{"method": "popup", "minutes": 60}]}
    assert "attendees" not in stored
    busy = await gcal_client.free_busy(now, now + timedelta(days=7))
    slots = free_slots(busy, now=now, days=7, work_days=[1, 2, 3, 4, 5], slot_minutes=60,
                       min_notice_hours=2, limit=3)
    assert slots == [at(MONDAY, 13), at(MONDAY, 14), at(MONDAY, 15)]


async def test_delete_twice_second_is_410_and_fine(gcal_fake: Fake, gcal_client: Client) -> None:
    event = await gcal_client.insert_event("Консультация", "", at(MONDAY, 12), at(MONDAY, 13))
    await gcal_client.delete_event(event["id"])
    await gcal_client.delete_event(event["id"])
    assert [r.status for r in gcal_fake.requests if r.method == "DELETE"] == [204, 410]
    assert await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1)) == []


async def test_delete_unknown_event_is_an_error(gcal_client: GoogleCalendarClient) -> None:
    with pytest.raises(GoogleAPIError) as info:
        await gcal_client.delete_event("nope")
    assert info.value.status_code == 404 and info.value.retryable is False


async def test_rate_limit_403_and_429_backed_off(gcal_fake: Fake, gcal_client: Client) -> None:
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    gcal_fake.fail_next(403)
    gcal_fake.fail_next(429)
    event = await gcal_client.insert_event("Консультация", "", at(MONDAY, 12), at(MONDAY, 13))
    assert [r.status for r in gcal_fake.calls("/events")] == [403, 429, 200]
    assert list(gcal_fake.events) == [event["id"]]


async def test_forbidden_403_is_not_retried(gcal_fake: Fake, gcal_client: Client) -> None:
    await gcal_client.free_busy(at(MONDAY, 0), at(MONDAY, 0, days=1))
    gcal_fake.fail_next(403, body={"error": {"code": 403, "message": "Forbidden",
                                        "errors": [{"domain": "calendar", "reason": "requiredAccessLevel"}]}})
    with pytest.raises(GoogleAPIError) as info:
        await gcal_client.insert_event("Консультация", "", at(MONDAY, 12), at(MONDAY, 13))
    assert info.value.retryable is False and info.value.reason == "requiredAccessLevel"
    assert gcal_fake.events == {}


def test_credentials_from_setting(tmp_path, key: rsa.RSAPrivateKey) -> None:  # type: ignore[no-untyped-def]
    info = {"type": "service_account", "client_email": EMAIL, "private_key": _pem(key),
            "token_uri": "http://127.0.0.1:1/token"}
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(info))
    assert ServiceAccount.load(str(path)).client_email == EMAIL
    assert ServiceAccount.load(json.dumps(info)).token_uri == "http://127.0.0.1:1/token"
    with pytest.raises(NotConfigured):
        GoogleCalendarClient.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]
    with pytest.raises(NotConfigured):
        ServiceAccount.load(json.dumps({"client_email": EMAIL}))
    with pytest.raises(NotConfigured):
        ServiceAccount.load(str(tmp_path / "missing.json"))


# --- free_slots (pure) -----------------------------------------------------------------------------------

def slots_for(busy: list[tuple[datetime, datetime]], now: datetime, **kwargs: object) -> list[datetime]:
    params: dict[str, object] = {"days": 7, "work_days": [1, 2, 3, 4, 5], "work_hours": "10:00-19:00",
                                 "slot_minutes": 60, "min_notice_hours": 2, "limit": 5}
    params.update(kwargs)
    return free_slots(busy, now=now, **params)  # type: ignore[arg-type]


def test_slots_respect_notice_and_never_in_past() -> None:
    now = at(MONDAY, 14, 20)
    slots = slots_for([], now)
    assert slots[0] == at(MONDAY, 17)  # 16:20 is the earliest; the grid gives 17:00
    assert all(s >= now + timedelta(hours=2) for s in slots)
    assert slots[:2] == [at(MONDAY, 17), at(MONDAY, 18)]
    assert slots[2] == at(MONDAY, 10, days=1)  # the next morning


def test_slots_stay_inside_working_hours_and_days() -> None:
    friday_evening = at(MONDAY, 18, days=4)
    slots = slots_for([], friday_evening, slot_minutes=45, limit=20)
    assert slots[0] == at(MONDAY, 10, days=7)  # Saturday and Sunday skipped
    for start in slots:
        assert start.isoweekday() <= 5
        assert start.hour >= 10 and start + timedelta(minutes=45) <= start.replace(hour=19, minute=0)


def test_slots_never_overlap_busy() -> None:
    now = at(MONDAY, 7)
    busy = [(at(MONDAY, 10, 30), at(MONDAY, 11, 15)), (at(MONDAY, 13), at(MONDAY, 14))]
    slots = slots_for(busy, now, slot_minutes=30, limit=6)
    assert slots == [at(MONDAY, 10), at(MONDAY, 11, 30), at(MONDAY, 12), at(MONDAY, 12, 30),
                     at(MONDAY, 14), at(MONDAY, 14, 30)]


def test_slots_from_utc_now_and_limits() -> None:
    now_utc = at(MONDAY, 8).astimezone(ZoneInfo("UTC"))  # 05:00 UTC = 08:00 MSK
    slots = slots_for([], now_utc, limit=2)
    assert slots == [at(MONDAY, 10), at(MONDAY, 11)]
    assert slots[0].utcoffset() == timedelta(hours=3)
    assert slots_for([], now_utc, days=0) == []
    with pytest.raises(ValueError):
        slots_for([], datetime(2030, 3, 4, 8))  # naive now
    with pytest.raises(ValueError):
        slots_for([], now_utc, work_hours="19:00-10:00")
