"""Property-based run (hypothesis) over the public and the admin APIs of the real app: whatever the body, the query
or the path, the answer is never a 5xx — wrong input is a 4xx with our JSON error body."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.admin import make_user, token_for
from web import keys

pytestmark = pytest.mark.fault

PRODUCTS = {"ai_manager", "ai_lawyer", "ai_analyst"}
PARAMS = {"users", "integrations", "hosting", "sla", "deadline"}

scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
                    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=80))
json_values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
                           max_leaves=12)
site_body = st.fixed_dictionaries({}, optional={
    "session_id": st.one_of(st.text(max_size=70), st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True), scalars),
    "text": st.one_of(st.text(max_size=300), scalars),
    "callback": st.one_of(st.text(max_size=80), scalars),
    "client_message_id": st.one_of(st.text(max_size=80), scalars),
})
query_values = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)
queries = st.dictionaries(st.sampled_from(["page", "per_page", "stage", "channel", "hold", "q", "days", "from", "to",
                                           "status", "kind", "lead_id", "level", "product", "package", "after",
                                           "wait", "session_id", "exp", "sig", "retired", "limit"]),
                          query_values, max_size=5)
path_part = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="/?#%"),
                    min_size=1, max_size=20)


def raw_or_json(value: Any) -> tuple[bytes, str]:
    return json.dumps(value, ensure_ascii=False, allow_nan=True).encode(), "application/json"


bodies = st.one_of(json_values.map(raw_or_json), site_body.map(raw_or_json),
                   st.binary(max_size=200).map(lambda b: (b, "application/json")),
                   st.text(max_size=100).map(lambda t: (t.encode(), "application/x-www-form-urlencoded")))


@pytest.fixture
async def fuzz_client(settings, services, broker, clean_db, redis_client,  # type: ignore[no-untyped-def]
                      tmp_path: Path) -> AsyncIterator[tuple[TestClient[Any, Any], dict[str, str]]]:
    from web.app import create_app

    app = create_app(settings.model_copy(update={"RATE_LIMIT_PER_MINUTE": 1_000_000}), database_url=services[0],
                     redis_url=services[1], broker=broker)
    app[keys.KNOWLEDGE_BASE].path = tmp_path / "kb"  # never the repository's knowledge base
    (tmp_path / "kb").mkdir()
    make_user(clean_db)
    async with TestClient(TestServer(app)) as client:
        headers = {"Authorization": f"Bearer {await token_for(client)}"}
        yield client, headers


def no_server_error(status: int, body: bytes, what: str) -> None:
    assert status < 500, f"{what} → {status}: {body[:300]!r}"
    if status >= 400 and body.startswith(b"{"):
        error = json.loads(body)["error"]
        assert error["code"] and error["message"]


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                      HealthCheck.too_slow])


@FUZZ
@given(body=bodies, query=queries)
async def test_public_api_never_answers_5xx(fuzz_client, body: tuple[bytes, str], query: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    client, _ = fuzz_client
    data, content_type = body
    for method, path in (("POST", "/api/v1/site/messages"), ("GET", "/api/v1/site/messages"),
                         ("POST", "/api/v1/quote"), ("POST", "/api/v1/site/leads"), ("GET", "/d/1"),
                         ("POST", "/api/v1/admin/token")):
        params = {**query, "wait": "0"} if path == "/api/v1/site/messages" else query
        response = await client.request(method, path, data=data if method == "POST" else None, params=params,
                                        headers={"Content-Type": content_type})
        no_server_error(response.status, await response.read(), f"{method} {path}")


@settings(FUZZ, max_examples=30)
@given(body=bodies, query=queries, part=path_part, part2=path_part)
async def test_admin_api_never_answers_5xx(fuzz_client, body: tuple[bytes, str], query: dict[str, str],  # type: ignore[no-untyped-def]
                                           part: str, part2: str) -> None:
    client, headers = fuzz_client
    data, content_type = body
    product = part if part not in PRODUCTS else part + "x"
    param = part if part not in PARAMS else part + "x"
    requests = (
        ("GET", "/api/v1/admin/leads"), ("GET", f"/api/v1/admin/leads/{part}"),
        ("POST", f"/api/v1/admin/leads/{part}/messages"), ("POST", "/api/v1/admin/leads/1/messages"),
        ("POST", f"/api/v1/admin/leads/{part}/take-over"), ("GET", "/api/v1/admin/payments"),
        ("GET", "/api/v1/admin/bookings"), ("GET", "/api/v1/admin/events"), ("GET", "/api/v1/admin/logs"),
        ("GET", "/api/v1/admin/failed-jobs"), ("GET", "/api/v1/admin/analytics"),
        ("GET", f"/api/v1/admin/templates/{part}/preview"), ("GET", "/api/v1/admin/templates/proposal/preview"),
        ("PUT", f"/api/v1/admin/prices/rates/{product}/{part2}"), ("PUT", "/api/v1/admin/prices/rates/x/start"),
        ("PUT", f"/api/v1/admin/prices/coefficients/{param}/{part2}"), ("GET", "/api/v1/admin/prices/history"),
        ("GET", f"/api/v1/admin/kb/documents/{part}"), ("DELETE", f"/api/v1/admin/kb/documents/{part}"),
        ("POST", "/api/v1/admin/kb/documents"), ("GET", f"/api/v1/admin/documents/{part}/file"),
    )
    for method, path in requests:
        response = await client.request(method, path, data=data if method in ("POST", "PUT") else None,
                                        params=query, headers={**headers, "Content-Type": content_type})
        no_server_error(response.status, await response.read(), f"{method} {path} {query}")
    forged = "".join(ch for ch in part if 32 < ord(ch) < 127) or "x"  # header-safe: a token that is not ours
    response = await client.get("/api/v1/admin/leads", params=query, headers={"Authorization": f"Bearer {forged}"})
    assert response.status == 401
