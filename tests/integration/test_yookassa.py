"""The real YooKassa client against the local fake; the notification sender address check."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest

from integrations.yookassa import Payment, YooKassaClient, YooKassaError, is_yookassa_address
from tests.fakes.yookassa_fake import YooKassaFake
from voronka.errors import NotConfigured
from voronka.settings import Settings

SHOP, SECRET = "123456", "test_secret_key"
RETURN_URL = "https://voronka.ai/pay/done"


class SleepRecorder:
    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
async def yookassa() -> AsyncIterator[YooKassaFake]:
    async with YooKassaFake(shop_id=SHOP, secret_key=SECRET) as server:
        yield server


@pytest.fixture
async def yookassa_client(yookassa: YooKassaFake) -> AsyncIterator[YooKassaClient]:
    async with YooKassaClient(SHOP, SECRET, api_url=yookassa.url, sleep=SleepRecorder()) as c:
        yield c


async def create(yookassa_client: YooKassaClient, key: str = "invoice-17-attempt-1", **kwargs: object) -> Payment:
    params: dict[str, object] = {"amount": Decimal("15000"), "description": "Оплата: ИИ-Юрист, пакет «Старт»",
                                 "return_url": RETURN_URL, "metadata": {"lead_id": 17, "invoice_id": "INV-17"},
                                 "idempotence_key": key}
    params.update(kwargs)
    return await yookassa_client.create_payment(**params)  # type: ignore[arg-type]


async def test_create_payment(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    payment = await create(yookassa_client)
    assert payment.status == "pending" and payment.paid is False
    assert payment.amount == Decimal("15000.00")
    assert payment.confirmation_url and payment.id in payment.confirmation_url
    assert payment.metadata == {"lead_id": "17", "invoice_id": "INV-17"}
    request = yookassa.requests[0]
    assert request.headers["Idempotence-Key"] == "invoice-17-attempt-1"
    assert base64.b64decode(request.headers["Authorization"][6:]).decode() == f"{SHOP}:{SECRET}"
    assert request.body["amount"] == {"value": "15000.00", "currency": "RUB"}
    assert request.body["capture"] is True
    assert request.body["confirmation"] == {"type": "redirect", "return_url": RETURN_URL}


async def test_long_description_is_truncated_to_128(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    payment = await create(yookassa_client, description="Оплата по счёту " + "очень длинное описание " * 20)
    stored = yookassa.payments[payment.id]["description"]
    assert len(stored) == 128 and stored.startswith("Оплата по счёту") and stored.endswith("…")


async def test_lost_response_then_retry_makes_exactly_one_payment(yookassa: YooKassaFake) -> None:
    sleeper = SleepRecorder()
    async with YooKassaClient(SHOP, SECRET, api_url=yookassa.url, sleep=sleeper) as yookassa_client:
        yookassa.fail_next(500, after_processing=True)  # YooKassa made the payment, the answer got lost
        yookassa.fail_next(500)
        payment = await create(yookassa_client)
    assert [r.status for r in yookassa.requests] == [500, 500, 200]
    assert {r.headers["Idempotence-Key"] for r in yookassa.requests} == {"invoice-17-attempt-1"}
    assert list(yookassa.payments) == [payment.id]
    assert len(sleeper.calls) == 2


async def test_same_key_twice_returns_the_same_payment(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    first = await create(yookassa_client)
    second = await create(yookassa_client)
    other = await create(yookassa_client, key="invoice-17-attempt-2")
    assert first.id == second.id != other.id
    assert len(yookassa.payments) == 2


async def test_get_payment_follows_its_status(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    payment = await create(yookassa_client)
    yookassa.succeed(payment.id)
    paid = await yookassa_client.get_payment(payment.id)
    assert (paid.status, paid.paid, paid.amount) == ("succeeded", True, Decimal("15000.00"))
    other = await create(yookassa_client, key="k2")
    yookassa.cancel(other.id)
    canceled = await yookassa_client.get_payment(other.id)
    assert canceled.status == "canceled"
    assert (canceled.cancellation_party, canceled.cancellation_reason) == ("yoo_money", "expired_on_confirmation")


async def test_notification_object_parses(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    payment = await create(yookassa_client)
    yookassa.succeed(payment.id)
    body = yookassa.notification(payment.id, "payment.succeeded")
    assert body["type"] == "notification" and body["event"] == "payment.succeeded"
    parsed = Payment.from_api(body["object"])
    assert (parsed.id, parsed.status, parsed.metadata["lead_id"]) == (payment.id, "succeeded", "17")


async def test_cancel_only_waiting_for_capture(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    payment = await create(yookassa_client, capture=False)
    with pytest.raises(YooKassaError) as info:
        await yookassa_client.cancel_payment(payment.id, "cancel-1")
    assert info.value.status_code == 400 and info.value.retryable is False
    yookassa.authorize(payment.id)
    canceled = await yookassa_client.cancel_payment(payment.id, "cancel-2")
    assert canceled.status == "canceled" and canceled.cancellation_party == "merchant"
    assert yookassa.payments[payment.id]["status"] == "canceled"


async def test_wrong_credentials_typed_not_retried(yookassa: YooKassaFake) -> None:
    sleeper = SleepRecorder()
    async with YooKassaClient(SHOP, "wrong", api_url=yookassa.url, sleep=sleeper) as yookassa_client:
        with pytest.raises(YooKassaError) as info:
            await create(yookassa_client)
    assert info.value.status_code == 401 and info.value.api_code == "invalid_credentials"
    assert info.value.retryable is False
    assert len(yookassa.requests) == 1 and sleeper.calls == [] and yookassa.payments == {}


async def test_unknown_payment_404_not_retried(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    with pytest.raises(YooKassaError) as info:
        await yookassa_client.get_payment("2e1f0000-000f-5000-8000-000000000000")
    assert info.value.status_code == 404 and info.value.api_code == "not_found"
    assert len(yookassa.requests) == 1


async def test_invalid_request_names_the_parameter(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    with pytest.raises(YooKassaError) as info:
        await create(yookassa_client, return_url="")
    assert info.value.parameter == "confirmation.return_url"
    assert "confirmation.return_url" in info.value.message
    assert len(yookassa.requests) == 1


async def test_429_then_success(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    yookassa.fail_next(429, times=2)
    payment = await create(yookassa_client)
    assert [r.status for r in yookassa.requests] == [429, 429, 200]
    assert list(yookassa.payments) == [payment.id]


async def test_persistent_500_gives_up_retryable(yookassa: YooKassaFake, yookassa_client: YooKassaClient) -> None:
    yookassa.fail_next(500, times=10)
    with pytest.raises(YooKassaError) as info:
        await yookassa_client.get_payment("x")
    assert info.value.retryable is True and info.value.api_code == "internal_server_error"
    assert len(yookassa.requests) == 4


def test_not_configured() -> None:
    with pytest.raises(NotConfigured):
        YooKassaClient.from_settings(Settings(_env_file=None))  # type: ignore[call-arg]


# --- sender address ----------------------------------------------------------------------------------------

ALLOWED = Settings(_env_file=None).YOOKASSA_ALLOWED_IPS  # type: ignore[call-arg]
PROXIES = ["10.0.0.0/8", "127.0.0.1"]


@pytest.mark.parametrize(("remote", "xff", "expected"), [
    ("185.71.76.5", None, True),  # inside 185.71.76.0/27
    ("185.71.76.40", None, False),  # just outside the /27
    ("77.75.156.11", None, True),  # a single address
    ("8.8.8.8", None, False),  # foreign
    ("8.8.8.8", "185.71.76.5", False),  # XFF from an untrusted peer is ignored
    ("10.1.2.3", "185.71.76.5", True),  # XFF via a trusted proxy is honoured
    ("10.1.2.3", "185.71.76.5, 10.0.0.7", True),  # right-most untrusted hop after our own proxies
    ("10.1.2.3", "185.71.76.5, 8.8.8.8", False),  # a spoofed left-most entry does not help
    ("10.1.2.3", None, False),  # the proxy itself is not YooKassa
    ("10.1.2.3", "garbage", False),
    ("2a02:5180:0:1::25", None, True),  # IPv6 range
    ("2a02:5181::1", None, False),
    ("::ffff:185.71.77.10", None, True),  # IPv4-mapped IPv6 peer
    ("127.0.0.1", "[2a02:5180::1]:443", True),
    ("", None, False),
])
def test_is_yookassa_address(remote: str, xff: str | None, expected: bool) -> None:
    assert is_yookassa_address(remote, xff, allowed=ALLOWED, trusted_proxies=PROXIES) is expected
