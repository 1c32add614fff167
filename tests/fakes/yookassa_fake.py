"""A faithful local YooKassa API v3 (shared/contracts/yookassa.md) for tests.

- Basic auth ``shopId:secretKey`` → 401 ``invalid_credentials``.
- ``POST /payments`` honours ``Idempotence-Key``: the same key returns the stored answer (a different body with
  the same key → 400), a missing key → 400. ``GET /payments/{id}``, ``POST /payments/{id}/cancel`` (only
  ``waiting_for_capture``).
- Errors ``{"type": "error", "id", "code", "description", "parameter"}``.
- ``fail_next(status, body=None, times=1, after_processing=False)``: with ``after_processing`` the request is
  carried out and only the answer is replaced (a lost response) — the case where retrying with a new key
  would create a second payment.
- Test hooks: ``authorize`` (→ waiting_for_capture), ``succeed``, ``cancel``, ``notification(payment_id, event)``.
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LocalServer, RecordedRequest

ERROR_CODES = {400: "invalid_request", 401: "invalid_credentials", 403: "forbidden", 404: "not_found",
               429: "too_many_requests", 500: "internal_server_error"}


def yk_error(status: int, description: str, parameter: str | None = None, code: str | None = None) -> web.Response:
    body: dict[str, Any] = {"type": "error", "id": str(uuid.uuid4()), "code": code or ERROR_CODES.get(status, "error"),
                            "description": description}
    if parameter:
        body["parameter"] = parameter
    return web.json_response(body, status=status)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class _Failure:
    status: int
    body: Any
    times: int
    after_processing: bool


@dataclass
class YooKassaFake(LocalServer):
    shop_id: str = "123456"
    secret_key: str = "test_secret_key"
    requests: list[RecordedRequest] = field(default_factory=list)
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._failures: deque[_Failure] = deque()
        self._idempotence: dict[str, tuple[str, Any, int, Any]] = {}  # key → (path, body, status, answer)
        self._server: TestServer | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_post("/v3/payments", self._create)
        self.app.router.add_get("/v3/payments/{id}", self._get)
        self.app.router.add_post("/v3/payments/{id}/cancel", self._cancel_api)

    # --- lifecycle: tests.fakes.server.LocalServer -------------------------------------------------
    @property
    def url(self) -> str:
        """The API base URL (``.../v3``), i.e. ``YOOKASSA_API_URL``."""
        return self.root_url + "/v3"

    @property
    def started_url(self) -> str:
        return self.url

    # --- scripting / hooks ---------------------------------------------------------------------------
    def fail_next(self, status: int, body: Any = None, times: int = 1, after_processing: bool = False) -> None:
        self._failures.append(_Failure(status, body, times, after_processing))

    def authorize(self, payment_id: str) -> dict[str, Any]:
        """The client paid a ``capture=false`` payment: it waits for capture."""
        payment = self.payments[payment_id]
        payment.update(status="waiting_for_capture", paid=True)
        return payment

    def succeed(self, payment_id: str) -> dict[str, Any]:
        payment = self.payments[payment_id]
        payment.update(status="succeeded", paid=True, captured_at=_now(),
                       income_amount=payment["amount"], refundable=True)
        payment.pop("confirmation", None)
        return payment

    def cancel(self, payment_id: str, *, party: str = "yoo_money",
               reason: str = "expired_on_confirmation") -> dict[str, Any]:
        payment = self.payments[payment_id]
        payment.update(status="canceled", paid=False, cancellation_details={"party": party, "reason": reason})
        payment.pop("confirmation", None)
        return payment

    def notification(self, payment_id: str, event: str) -> dict[str, Any]:
        """The JSON body YooKassa would POST to our notification URL."""
        return {"type": "notification", "event": event, "object": json.loads(json.dumps(self.payments[payment_id]))}

    # --- middleware ----------------------------------------------------------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(request.method, request.path, dict(request.headers), body, time.monotonic())
        self.requests.append(record)
        response = await self._dispatch(request, handler)
        record.status = response.status
        return response

    def _authorized(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:], validate=True).decode()
        except ValueError:
            return False
        return decoded == f"{self.shop_id}:{self.secret_key}"

    async def _dispatch(self, request: web.Request, handler: Any) -> web.StreamResponse:
        failure = None
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.popleft()
            if not failure.after_processing:
                return self._failure_response(failure)
        if not self._authorized(request):
            return yk_error(401, "Login and password are not valid. Check the shopId and the secret key.",
                            "Authorization")
        response: web.StreamResponse = await handler(request)
        if failure is not None:
            return self._failure_response(failure)
        return response

    @staticmethod
    def _failure_response(failure: _Failure) -> web.Response:
        if failure.body is not None:
            return web.json_response(failure.body, status=failure.status)
        return yk_error(failure.status, f"Scripted failure {failure.status}")

    # --- handlers ------------------------------------------------------------------------------------
    def _idempotent(self, request: web.Request, body: Any) -> tuple[str | None, web.Response | None]:
        key = request.headers.get("Idempotence-Key")
        if not key:
            return None, yk_error(400, "Idempotence key is missing", "Idempotence-Key")
        if len(key) > 64:
            return None, yk_error(400, "Idempotence key is too long (max 64)", "Idempotence-Key")
        stored = self._idempotence.get(key)
        if stored is None:
            return key, None
        path, stored_body, status, answer = stored
        if path != request.path or stored_body != body:
            return key, yk_error(400, "Idempotence key duplicated with other request parameters",
                                 "Idempotence-Key")
        return key, web.json_response(answer, status=status)

    def _remember(self, key: str, request: web.Request, body: Any, response: web.Response) -> web.Response:
        assert response.text is not None
        self._idempotence[key] = (request.path, body, response.status, json.loads(response.text))
        return response

    async def _create(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"null")
        key, early = self._idempotent(request, body)
        if early is not None:
            return early
        assert key is not None
        return self._remember(key, request, body, self._new_payment(body))

    def _new_payment(self, body: Any) -> web.Response:
        if not isinstance(body, dict):
            return yk_error(400, "Request body must be a JSON object")
        amount = body.get("amount") or {}
        try:
            value = Decimal(str(amount.get("value")))
        except InvalidOperation:
            return yk_error(400, "Invalid amount value", "amount.value")
        if value <= 0 or value.as_tuple().exponent < -2:  # type: ignore[operator]
            return yk_error(400, "Invalid amount value", "amount.value")
        if amount.get("currency") != "RUB":
            return yk_error(400, "Unsupported currency", "amount.currency")
        description = body.get("description", "")
        if len(description) > 128:
            return yk_error(400, "Description is too long (max 128 characters)", "description")
        confirmation = body.get("confirmation") or {}
        if confirmation.get("type") != "redirect" or not confirmation.get("return_url"):
            return yk_error(400, "return_url is required for redirect confirmation", "confirmation.return_url")
        metadata = body.get("metadata") or {}
        if len(metadata) > 16 or any(len(str(k)) > 32 or len(str(v)) > 512 for k, v in metadata.items()):
            return yk_error(400, "Invalid metadata", "metadata")
        payment_id = f"{uuid.uuid4().hex[:8]}-000f-5000-8000-{uuid.uuid4().hex[:12]}"
        payment = {
            "id": payment_id, "status": "pending", "paid": False,
            "amount": {"value": f"{value:.2f}", "currency": "RUB"},
            "confirmation": {"type": "redirect",
                             "confirmation_url": f"https://yoomoney.ru/checkout/payments/v2/contract?orderId={payment_id}",
                             "return_url": confirmation["return_url"]},
            "created_at": _now(),
            "expires_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(timespec="milliseconds"),
            "description": description, "metadata": metadata,
            "recipient": {"account_id": self.shop_id, "gateway_id": "1000001"},
            "refundable": False, "test": True,
        }
        self.payments[payment_id] = payment
        return web.json_response(payment)

    async def _get(self, request: web.Request) -> web.Response:
        payment = self.payments.get(request.match_info["id"])
        if payment is None:
            return yk_error(404, "Payment not found", "payment_id")
        return web.json_response(payment)

    async def _cancel_api(self, request: web.Request) -> web.Response:
        body = json.loads(await request.read() or b"{}")
        key, early = self._idempotent(request, body)
        if early is not None:
            return early
        assert key is not None
        payment = self.payments.get(request.match_info["id"])
        if payment is None:
            return self._remember(key, request, body, yk_error(404, "Payment not found", "payment_id"))
        if payment["status"] != "waiting_for_capture":
            return self._remember(key, request, body, yk_error(
                400, f"Payment in status {payment['status']} can't be canceled", "payment_id"))
        return self._remember(key, request, body, web.json_response(
            self.cancel(request.match_info["id"], party="merchant", reason="canceled_by_merchant")))
