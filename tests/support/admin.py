"""Admin-side helpers: a user with a password, a JWT or a login cookie for it, a site message and its lead, and
a dead letter on the real Dramatiq broker."""

from __future__ import annotations

from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from sqlmodel import Session

from db.models import Message
from web.admin.auth import create_user

PASSWORD = "correct horse battery"


def make_user(engine, username: str = "anna", password: str = PASSWORD, role: str = "admin") -> None:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        create_user(session, username, password, role=role)
        session.commit()


async def token_for(client, username: str = "anna", password: str = PASSWORD) -> str:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/admin/token", json={"username": username, "password": password})
    assert response.status == 200, await response.text()
    return str((await response.json())["access_token"])


async def login(client, username: str = "anna") -> str:  # type: ignore[no-untyped-def]
    response = await client.post("/admin/login", data={"username": username, "password": PASSWORD,
                                                       "next": "/admin/leads"}, allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/admin/leads"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    return str(response.cookies["voronka_admin"].value)


async def site_say(client, session_id: str, text: str) -> int:  # type: ignore[no-untyped-def]
    response = await client.post("/api/v1/site/messages", json={"session_id": session_id, "text": text})
    assert response.status == 202
    return int((await response.json())["message_id"])


def lead_of(engine, message_id: int) -> int:  # type: ignore[no-untyped-def]
    with Session(engine) as session:
        message = session.get(Message, message_id)
        assert message is not None
        return message.lead_id


# --- the queues ---------------------------------------------------------------------------------------------

TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1, in sweep\nRuntimeError: channel is down\n'


def message(actor: str = "maintenance.sweep", *args: Any, **options: Any) -> dramatiq.Message[Any]:
    return dramatiq.Message(queue_name="maintenance", actor_name=actor, args=args, kwargs={}, options=options)


def dead_letter(broker: RedisBroker, msg: dramatiq.Message[Any]) -> str:
    """Dead-letter a message the way a worker does: enqueue, fetch (unacked), nack."""
    sent = broker.enqueue(msg)
    fetched = broker.do_fetch("maintenance", 1)
    assert len(fetched) == 1
    broker.do_nack("maintenance", sent.options["redis_message_id"])
    return str(sent.options["redis_message_id"])
