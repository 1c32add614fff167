"""Bad input to the site chat API gets a clear 4xx JSON error and nothing is stored."""

from __future__ import annotations

from sqlalchemy import text


def count_messages(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM messages")).scalar() or 0)


async def test_invalid_json_is_422(client, engine) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/messages", data=b"{not json",
                                 headers={"Content-Type": "application/json"})
    assert response.status == 422
    body = await response.json()
    assert body["error"]["code"] == "invalid_json" and body["error"]["message"]
    assert count_messages(engine) == 0


async def test_missing_and_wrong_fields_name_the_field(client, engine) -> None:  # type: ignore[no-untyped-def]
    cases = [
        ({"text": "Привет"}, "session_id"),
        ({"session_id": "bad id with spaces", "text": "Привет"}, "session_id"),
        ({"session_id": "x" * 65, "text": "Привет"}, "session_id"),
        ({"session_id": "s1"}, "text"),
        ({"session_id": "s1", "text": "   "}, "text"),
        ({"session_id": "s1", "text": 42}, "text"),
        ({"session_id": "s1", "text": "a", "callback": "b"}, "text"),
        ({"session_id": "s1", "callback": ""}, "callback"),
        ({"session_id": "s1", "text": "a", "client_message_id": "x" * 70}, "client_message_id"),
    ]
    for payload, field in cases:
        response = await client.post("/api/v1/site/messages", json=payload)
        assert response.status == 422, payload
        assert (await response.json())["error"]["field"] == field, payload
    response = await client.post("/api/v1/site/messages", json=["not", "an", "object"])
    assert response.status == 422
    assert count_messages(engine) == 0


async def test_oversize_message_is_413_in_russian(client, engine, settings) -> None:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/messages",
                                 json={"session_id": "s1", "text": "я" * (settings.MAX_MESSAGE_LENGTH + 1)})
    assert response.status == 413
    body = await response.json()
    assert body["error"]["field"] == "text" and "слишком длинное" in body["error"]["message"]
    # exactly at the limit is fine
    response = await client.post("/api/v1/site/messages",
                                 json={"session_id": "s1", "text": "я" * settings.MAX_MESSAGE_LENGTH})
    assert response.status == 202
    assert count_messages(engine) == 1


async def test_get_validates_its_query(client) -> None:  # type: ignore[no-untyped-def]
    cases = (({}, "session_id"), ({"session_id": "s1", "wait": "99"}, "wait"),
             ({"session_id": "s1", "after": "-1"}, "after"), ({"session_id": "s1", "after": "x"}, "after"))
    for params, field in cases:
        response = await client.get("/api/v1/site/messages", params=params)
        assert response.status == 422
        assert (await response.json())["error"]["field"] == field


async def test_unknown_route_is_json_404(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.get("/api/v1/nope")
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "not_found"
