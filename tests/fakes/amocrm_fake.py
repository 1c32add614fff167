"""A faithful local amoCRM API v4 (shared/contracts/amocrm.md) for tests.

Real paths, Bearer auth (401 problem+json), 7 requests/s per integration (sliding 1-second window → 429),
problem+json validation errors, 204 on empty lists. Stores leads, contacts and notes so a test can assert
the state a manager would see (e.g. a lead moved to status 142). ``fail_next`` scripts failures;
``requests`` records every request with its arrival time (``time.monotonic()``) and the status answered.

    async with AmoCRMFake(token="t") as fake:
        client = AmoCRMClient(fake.url, "t", ...)
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.fakes.server import LocalServer, RecordedRequest

DEFAULT_PIPELINE_ID = 7000001
DEFAULT_STATUS_ID = 7000101
BUILT_IN_STATUSES = (142, 143)
PHONE_ENUMS = {"WORK", "WORKDD", "MOB", "FAX", "HOME", "OTHER"}
EMAIL_ENUMS = {"WORK", "PRIV", "OTHER"}


def default_pipelines() -> list[dict[str, Any]]:
    return [{
        "id": DEFAULT_PIPELINE_ID, "name": "Продажи ИИ-сервисов", "sort": 1, "is_main": True,
        "statuses": [
            {"id": 7000100, "name": "Неразобранное", "type": 1},
            {"id": DEFAULT_STATUS_ID, "name": "Первичный контакт", "type": 0},
            {"id": 7000102, "name": "Переговоры", "type": 0},
            {"id": 7000103, "name": "Счёт выставлен", "type": 0},
            {"id": 142, "name": "Успешно реализовано", "type": 0},
            {"id": 143, "name": "Закрыто и не реализовано", "type": 0},
        ],
    }]


@dataclass
class _Failure:
    status: int
    body: Any
    headers: dict[str, str]
    times: int


def problem(status: int, title: str, detail: str, validation: list[Any] | None = None) -> web.Response:
    body: dict[str, Any] = {"title": title, "type": f"https://httpstatus.es/{status}", "status": status,
                            "detail": detail}
    if validation is not None:
        body["validation-errors"] = validation
    return web.Response(status=status, text=json.dumps(body, ensure_ascii=False),
                        content_type="application/problem+json")


def _validation(path: str, detail: str, code: str = "NotSupportedChoice") -> list[Any]:
    return [{"request_id": "0", "errors": [{"code": code, "path": path, "detail": detail}]}]


@dataclass
class AmoCRMFake(LocalServer):
    token: str = "amo-test-token"
    rate_limit: int = 7
    pipelines: list[dict[str, Any]] = field(default_factory=default_pipelines)
    requests: list[RecordedRequest] = field(default_factory=list)
    leads: dict[int, dict[str, Any]] = field(default_factory=dict)
    contacts: dict[int, dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._failures: deque[_Failure] = deque()
        self._ids = itertools.count(31_000_001)
        self._recent: deque[float] = deque()
        self._server: TestServer | None = None
        self.app = web.Application(middlewares=[self._middleware])
        self.app.router.add_post("/api/v4/leads/complex", self._leads_complex)
        self.app.router.add_patch("/api/v4/leads/{id}", self._patch_lead)
        self.app.router.add_post("/api/v4/leads/notes", self._notes)
        self.app.router.add_get("/api/v4/leads/pipelines", self._pipelines)

    # --- lifecycle: tests.fakes.server.LocalServer -------------------------------------------------
    @property
    def url(self) -> str:
        return self.root_url

    # --- scripting -------------------------------------------------------------------------------
    def fail_next(self, status: int, body: Any = None, times: int = 1,
                  headers: dict[str, str] | None = None) -> None:
        """The next ``times`` requests (after the rate limit) answer ``status`` with ``body``."""
        self._failures.append(_Failure(status, body, headers or {}, times))

    def statuses(self) -> list[int]:
        return [r.status for r in self.requests]

    # --- middleware: record, rate limit, scripted failures, auth ----------------------------------
    @web.middleware
    async def _middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        now = time.monotonic()
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode(errors="replace")
        record = RecordedRequest(request.method, request.path, dict(request.headers), body, now)
        self.requests.append(record)
        response = await self._dispatch(request, handler, now)
        record.status = response.status
        return response

    async def _dispatch(self, request: web.Request, handler: Any, now: float) -> web.StreamResponse:
        while self._recent and self._recent[0] <= now - 1.0:
            self._recent.popleft()
        self._recent.append(now)
        if len(self._recent) > self.rate_limit:
            return problem(429, "Too Many Requests", "Превышен лимит запросов: 7 в секунду")
        if self._failures:
            failure = self._failures[0]
            failure.times -= 1
            if failure.times <= 0:
                self._failures.popleft()
            if failure.body is None:
                response = problem(failure.status, "Error", f"Scripted failure {failure.status}")
            else:
                response = web.Response(status=failure.status,
                                        text=json.dumps(failure.body, ensure_ascii=False),
                                        content_type="application/problem+json")
            response.headers.update(failure.headers)
            return response
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return problem(401, "Unauthorized", "Неверный или просроченный токен доступа")
        result: web.StreamResponse = await handler(request)
        return result

    # --- handlers ----------------------------------------------------------------------------------
    def _status_ok(self, pipeline_id: int, status_id: int) -> bool:
        if status_id in BUILT_IN_STATUSES:
            return True
        for pipeline in self.pipelines:
            if pipeline["id"] == pipeline_id:
                return any(s["id"] == status_id for s in pipeline["statuses"])
        return False

    def _pipeline_exists(self, pipeline_id: int) -> bool:
        return any(p["id"] == pipeline_id for p in self.pipelines)

    async def _leads_complex(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read() or b"null")
        if not isinstance(payload, list) or not payload or len(payload) > 50:
            return problem(400, "Bad Request", "Request body must be a non-empty array of at most 50 leads")
        result = []
        for index, lead in enumerate(payload):
            price = lead.get("price", 0)
            if not isinstance(price, int) or price < 0:
                return problem(400, "Bad Request", "Request validation failed",
                               _validation(f"{index}.price", "This value should be of type int.",
                                           "InvalidType"))
            pipeline_id = lead.get("pipeline_id", self.pipelines[0]["id"] if self.pipelines else 0)
            if "pipeline_id" in lead and not self._pipeline_exists(pipeline_id):
                return problem(400, "Bad Request", "Request validation failed",
                               _validation(f"{index}.pipeline_id", "Pipeline not found"))
            status_id = lead.get("status_id", DEFAULT_STATUS_ID)
            if "status_id" in lead and not self._status_ok(pipeline_id, status_id):
                return problem(400, "Bad Request", "Request validation failed",
                               _validation(f"{index}.status_id", "Status not found in pipeline"))
            embedded = lead.get("_embedded", {})
            contact_ids = []
            for c_index, contact in enumerate(embedded.get("contacts", [])):
                for f_index, cf in enumerate(contact.get("custom_fields_values", [])):
                    enums = PHONE_ENUMS if cf.get("field_code") == "PHONE" else EMAIL_ENUMS
                    if cf.get("field_code") not in ("PHONE", "EMAIL") or any(
                            v.get("enum_code") not in enums for v in cf.get("values", [])):
                        return problem(400, "Bad Request", "Request validation failed", _validation(
                            f"{index}._embedded.contacts.{c_index}.custom_fields_values.{f_index}",
                            "Field or enum is not supported"))
                contact_id = next(self._ids)
                self.contacts[contact_id] = {"id": contact_id, **contact}
                contact_ids.append(contact_id)
            lead_id = next(self._ids)
            self.leads[lead_id] = {
                "id": lead_id, "name": lead.get("name", f"Сделка #{lead_id}"), "price": price,
                "pipeline_id": pipeline_id, "status_id": status_id,
                "tags": [t["name"] for t in embedded.get("tags", [])], "contact_ids": contact_ids,
            }
            result.append({"id": lead_id, "contact_id": contact_ids[0] if contact_ids else None,
                           "company_id": None, "request_id": [str(index)], "merged": False})
        return web.json_response(result)

    async def _patch_lead(self, request: web.Request) -> web.Response:
        lead_id = int(request.match_info["id"])
        lead = self.leads.get(lead_id)
        if lead is None:
            return problem(404, "Not Found", f"Lead {lead_id} not found")
        patch = json.loads(await request.read() or b"{}")
        pipeline_id = patch.get("pipeline_id", lead["pipeline_id"])
        if "status_id" in patch and not self._status_ok(pipeline_id, patch["status_id"]):
            return problem(400, "Bad Request", "Request validation failed",
                           _validation("status_id", "Status not found in pipeline"))
        if "price" in patch:
            if not isinstance(patch["price"], int) or patch["price"] < 0:
                return problem(400, "Bad Request", "Request validation failed",
                               _validation("price", "This value should be of type int.", "InvalidType"))
            lead["price"] = patch["price"]
        lead["pipeline_id"] = pipeline_id
        if "status_id" in patch:
            lead["status_id"] = patch["status_id"]
        if "tags" in patch.get("_embedded", {}):
            lead["tags"] = [t["name"] for t in patch["_embedded"]["tags"]]
        return web.json_response({"id": lead_id, "updated_at": int(time.time()),
                                  "_links": {"self": {"href": f"{self.url}/api/v4/leads/{lead_id}"}}})

    async def _notes(self, request: web.Request) -> web.Response:
        payload = json.loads(await request.read() or b"null")
        if not isinstance(payload, list) or not payload:
            return problem(400, "Bad Request", "Request body must be a non-empty array")
        created = []
        for index, note in enumerate(payload):
            if note.get("entity_id") not in self.leads:
                return problem(400, "Bad Request", "Request validation failed",
                               _validation(f"{index}.entity_id", "Entity not found", "NotFound"))
            if note.get("note_type") != "common" or not note.get("params", {}).get("text"):
                return problem(400, "Bad Request", "Request validation failed",
                               _validation(f"{index}.params.text", "Text is required", "Required"))
            note_id = next(self._ids)
            self.notes.append({"id": note_id, "entity_id": note["entity_id"], "text": note["params"]["text"]})
            created.append({"id": note_id, "entity_id": note["entity_id"], "request_id": str(index)})
        return web.json_response({"_total_items": len(created), "_embedded": {"notes": created}})

    async def _pipelines(self, request: web.Request) -> web.Response:
        if not self.pipelines:
            return web.Response(status=204)
        items = [{**{k: v for k, v in p.items() if k != "statuses"},
                  "_embedded": {"statuses": [{**s, "pipeline_id": p["id"]} for s in p["statuses"]]}}
                 for p in self.pipelines]
        return web.json_response({"_total_items": len(items), "_embedded": {"pipelines": items}})

    def notes_of(self, lead_id: int) -> list[str]:
        return [n["text"] for n in self.notes if n["entity_id"] == lead_id]
