"""YooKassa API v3 over raw HTTP (contract: shared/contracts/yookassa.md) and the notification sender check.

Every POST carries an ``Idempotence-Key`` chosen by the caller; retries (timeouts, 429, 5xx) resend the same
key, so a lost response never turns into a second payment. 400/401/403/404 are final.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp
from loguru import logger

from integrations.http import (
    DEFAULT_TIMEOUT,
    RETRYABLE_STATUSES,
    HttpResponse,
    RetryPolicy,
    SessionOwner,
    Sleep,
    request_with_retries,
)
from voronka.errors import NotConfigured, UpstreamError, ValidationError
from voronka.settings import Settings

SERVICE = "yookassa"
MAX_DESCRIPTION = 128
MAX_IDEMPOTENCE_KEY = 64


class YooKassaError(UpstreamError):
    """A YooKassa call failed; ``api_code`` / ``parameter`` come from its error body."""

    code = "yookassa_error"

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None,
                 retry_after: float | None = None, api_code: str | None = None,
                 parameter: str | None = None) -> None:
        super().__init__(message, service=SERVICE, retryable=retryable, status_code=status_code,
                         retry_after=retry_after)
        self.api_code = api_code
        self.parameter = parameter


@dataclass(frozen=True)
class Payment:
    id: str
    status: str  # pending | waiting_for_capture | succeeded | canceled
    paid: bool
    amount: Decimal
    confirmation_url: str | None
    metadata: dict[str, str]
    created_at: datetime
    currency: str = "RUB"
    description: str = ""
    cancellation_party: str | None = None
    cancellation_reason: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Payment:
        """From a payment object (an API answer or a notification's ``object``)."""
        try:
            amount = data["amount"]
            confirmation = data.get("confirmation") or {}
            cancellation = data.get("cancellation_details") or {}
            return cls(
                id=str(data["id"]), status=str(data["status"]), paid=bool(data.get("paid", False)),
                amount=Decimal(str(amount["value"])), currency=str(amount.get("currency", "RUB")),
                confirmation_url=confirmation.get("confirmation_url"),
                metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()},
                created_at=datetime.fromisoformat(str(data["created_at"])),
                description=str(data.get("description", "")),
                cancellation_party=cancellation.get("party"), cancellation_reason=cancellation.get("reason"),
                raw=dict(data),
            )
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            raise YooKassaError(f"YooKassa: неожиданный объект платежа ({exc})", retryable=False) from exc


def _classify(response: HttpResponse) -> UpstreamError:
    body = response.json_or_none()
    if isinstance(body, dict) and body.get("type") == "error":
        api_code, parameter = body.get("code"), body.get("parameter")
        message = f"YooKassa {response.status} {api_code}: {body.get('description', '')}".rstrip()
        if parameter:
            message += f" (parameter: {parameter})"
    else:
        api_code, parameter, message = None, None, f"YooKassa: HTTP {response.status}"
    return YooKassaError(message, retryable=response.status in RETRYABLE_STATUSES, status_code=response.status,
                         retry_after=response.retry_after, api_code=api_code, parameter=parameter)


def truncate_description(text: str, limit: int = MAX_DESCRIPTION) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class YooKassaClient(SessionOwner):
    def __init__(self, shop_id: str, secret_key: str, *, api_url: str = "https://api.yookassa.ru/v3",
                 session: aiohttp.ClientSession | None = None, max_retries: int = 3,
                 sleep: Sleep = asyncio.sleep, timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT,
                 policy: RetryPolicy | None = None) -> None:
        if not shop_id or not secret_key:
            raise NotConfigured("ЮKassa не настроена: нужны YOOKASSA_SHOP_ID и YOOKASSA_SECRET_KEY")
        super().__init__(session)
        self._api = api_url.rstrip("/")
        self._authorization = aiohttp.encode_basic_auth(shop_id, secret_key)
        self._policy = policy or RetryPolicy(max_retries=max_retries)
        self._sleep = sleep
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings, *, session: aiohttp.ClientSession | None = None,
                      sleep: Sleep = asyncio.sleep) -> YooKassaClient:
        return cls(settings.YOOKASSA_SHOP_ID, settings.YOOKASSA_SECRET_KEY, api_url=settings.YOOKASSA_API_URL,
                   session=session, max_retries=settings.MAX_RETRIES, sleep=sleep)

    async def _call(self, method: str, path: str, *, body: Any = None,
                    idempotence_key: str | None = None) -> Payment:
        headers = {"Accept": "application/json", "Authorization": self._authorization}
        if method == "POST":
            if not idempotence_key or len(idempotence_key) > MAX_IDEMPOTENCE_KEY:
                raise ValueError("every YooKassa POST needs an Idempotence-Key of 1..64 characters")
            headers["Idempotence-Key"] = idempotence_key
        response = await request_with_retries(
            self.session, method, self._api + path, service=SERVICE, classify=_classify, policy=self._policy,
            sleep=self._sleep, timeout=self._timeout, headers=headers, json_body=body,
        )
        data = response.json_or_none()
        if not isinstance(data, dict):
            raise YooKassaError("YooKassa: ответ не JSON-объект", retryable=False, status_code=response.status)
        return Payment.from_api(data)

    async def create_payment(self, amount: Decimal, description: str, return_url: str,
                             metadata: Mapping[str, Any], idempotence_key: str, *, capture: bool = True,
                             currency: str = "RUB") -> Payment:
        """Create a redirect payment; the client pays at ``Payment.confirmation_url``."""
        value = Decimal(str(amount)).quantize(Decimal("0.01"))
        if value <= 0:
            raise ValidationError("Сумма платежа должна быть больше нуля", field="amount")
        body = {
            "amount": {"value": f"{value:.2f}", "currency": currency},
            "capture": capture,
            "confirmation": {"type": "redirect", "return_url": return_url},
            "description": truncate_description(description),
            "metadata": {str(k): str(v) for k, v in metadata.items()},
        }
        payment = await self._call("POST", "/payments", body=body, idempotence_key=idempotence_key)
        logger.info("YooKassa payment {} created: {}", payment.id, payment.status)
        return payment

    async def get_payment(self, payment_id: str) -> Payment:
        return await self._call("GET", f"/payments/{payment_id}")

    async def cancel_payment(self, payment_id: str, idempotence_key: str) -> Payment:
        """Cancel a payment in ``waiting_for_capture`` (YooKassa refuses others with 400)."""
        return await self._call("POST", f"/payments/{payment_id}/cancel", body={},
                                idempotence_key=idempotence_key)


# --- notification sender check ---------------------------------------------------------------------------

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _networks(values: Iterable[str]) -> list[IPNetwork]:
    return [ipaddress.ip_network(v.strip(), strict=False) for v in values if v.strip()]


def _address(text: str) -> IPAddress | None:
    """An address from a peer or an ``X-Forwarded-For`` item (``1.2.3.4``, ``1.2.3.4:5678``, ``[::1]:443``)."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].split("]", 1)[0]
    elif text.count(":") == 1:
        text = text.split(":", 1)[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _within(address: IPAddress, networks: list[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in networks)


def is_yookassa_address(remote_ip: str | None, forwarded_for: str | None, *, allowed: Iterable[str],
                        trusted_proxies: Iterable[str]) -> bool:
    """Whether a notification comes from one of YooKassa's networks.

    ``X-Forwarded-For`` is believed only when the direct peer is one of our ``trusted_proxies``; then the
    sender is the right-most address that is not a trusted proxy. Anything unparsable means "no".
    """
    peer = _address(remote_ip or "")
    if peer is None:
        return False
    trusted = _networks(trusted_proxies)
    sender: IPAddress | None = peer
    if forwarded_for and _within(peer, trusted):
        for item in reversed(forwarded_for.split(",")):
            sender = _address(item)
            if sender is None:
                return False
            if not _within(sender, trusted):
                break
    return sender is not None and _within(sender, _networks(allowed))
