"""The conversation pipeline called directly (no broker): memory across 29 days, cache rebuilt from Postgres,
re-runs that change nothing, and a manager hold that silences the bot."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import redis as redis_lib
from sqlalchemy import text
from sqlmodel import Session, select

from db.engine import make_async_engine
from db.models import Brief, Conversation, Lead, Message, Outbox, utcnow
from pipelines.conversation import handle_inbound
from pipelines.inbox import Inbound, record_inbound
from pipelines.memory import load_history, memory_key
from pipelines.runtime import Runtime


def store(database_url: str, session_id: str, text_: str) -> int:
    async def go() -> int:
        engine = make_async_engine(database_url, pool_size=1)
        async with engine.begin() as conn:
            recorded = await record_inbound(conn, Inbound(channel="site", external_chat_id=session_id,
                                                          external_user_id=session_id, external_id=None,
                                                          text=text_))
        await engine.dispose()
        return recorded.message_id

    return asyncio.run(go())


def say(deps: Runtime, database_url: str, session_id: str, text_: str) -> list[str]:
    message_id = store(database_url, session_id, text_)
    handle_inbound(deps, message_id)
    with Session(deps.engine) as session:
        rows = session.exec(select(Message).where(Message.direction == "out", Message.id > message_id)
                            .order_by(Message.id)).all()  # type: ignore[arg-type]
        return [m.text for m in rows]


def make_deps(settings, engine, redis_url: str) -> Runtime:  # type: ignore[no-untyped-def]
    return Runtime(settings=settings, engine=engine, redis=redis_lib.Redis.from_url(redis_url))


def test_client_returning_on_day_29_continues_where_they_stopped(settings, clean_db, redis_client,  # type: ignore[no-untyped-def]
                                                                 database_url, redis_url) -> None:
    deps = make_deps(settings, clean_db, redis_url)
    say(deps, database_url, "ret-1", "Здравствуйте")
    asked = " ".join(say(deps, database_url, "ret-1", "Нужен ИИ-юрист"))
    with Session(clean_db) as session:
        conversation = session.exec(select(Conversation)).one()
        conversation.state = {**conversation.state, "last_seen": (utcnow() - timedelta(days=29)).isoformat()}
        session.add(conversation)
        session.commit()
    redis_client.flushall()  # the cache is gone too: Postgres is the record
    reply = " ".join(say(deps, database_url, "ret-1", "40 юристов"))
    assert "Здравствуйте" not in reply  # not greeted again as a stranger
    with Session(clean_db) as session:
        brief = session.exec(select(Brief)).one().data
        stored = session.exec(text("SELECT data FROM briefs")).one()[0]  # type: ignore[call-overload]
    assert brief["product"] == "ai_lawyer" and brief["users"] == 40
    assert stored.startswith("enc1:") and "ai_lawyer" not in stored  # encrypted at rest
    assert asked != reply


def test_history_cache_is_rebuilt_from_postgres(settings, clean_db, redis_client, database_url,  # type: ignore[no-untyped-def]
                                                redis_url) -> None:
    deps = make_deps(settings, clean_db, redis_url)
    say(deps, database_url, "mem-1", "Здравствуйте")
    say(deps, database_url, "mem-1", "Сколько стоит ИИ-аналитик?")
    with Session(clean_db) as session:
        lead = session.exec(select(Lead)).one()
        assert lead.id is not None
        assert redis_client.get(memory_key(lead.id))  # refreshed after the turn
        cached = load_history(deps, session, lead_id=lead.id, before_id=10**9, limit=20)
        redis_client.flushall()
        rebuilt = load_history(deps, session, lead_id=lead.id, before_id=10**9, limit=20)
    assert cached == rebuilt
    assert [m["role"] for m in rebuilt][:2] == ["client", "assistant"]


def test_reprocessing_a_message_writes_nothing_new(settings, clean_db, redis_url, database_url) -> None:  # type: ignore[no-untyped-def]
    deps = make_deps(settings, clean_db, redis_url)
    message_id = store(database_url, "again-1", "Здравствуйте")
    first = handle_inbound(deps, message_id)
    with Session(clean_db) as session:
        before = len(session.exec(select(Outbox)).all())
    second = handle_inbound(deps, message_id)
    with Session(clean_db) as session:
        assert len(session.exec(select(Outbox)).all()) == before
    assert {i for i, _ in second} <= {i for i, _ in first}


def test_manager_hold_silences_the_bot(settings, clean_db, redis_url, database_url) -> None:  # type: ignore[no-untyped-def]
    deps = make_deps(settings, clean_db, redis_url)
    assert say(deps, database_url, "hold-1", "Здравствуйте")
    with Session(clean_db) as session:
        lead = session.exec(select(Lead)).one()
        lead.manager_hold = True
        session.add(lead)
        session.commit()
    assert say(deps, database_url, "hold-1", "Сколько стоит?") == []


def test_a_site_form_qualifies_the_lead_and_goes_to_the_crm(settings, clean_db, redis_url, database_url) -> None:  # type: ignore[no-untyped-def]
    from db.models import Client

    async def store_form() -> int:
        engine = make_async_engine(database_url, pool_size=1)
        async with engine.begin() as conn:
            recorded = await record_inbound(conn, Inbound(
                channel="site", external_chat_id="form-1", external_user_id="form-1", external_id=None, kind="form",
                payload={"name": "Ольга", "phone": "+79161234567", "email": "olga@example.ru",
                         "product": "ai_analyst", "comment": "Нужны отчёты по продажам"}))
        await engine.dispose()
        return recorded.message_id

    deps = make_deps(settings, clean_db, redis_url)
    message_id = asyncio.run(store_form())
    handle_inbound(deps, message_id)
    with Session(clean_db) as session:
        lead = session.exec(select(Lead)).one()
        client = session.get(Client, lead.client_id)
        crm = session.exec(select(Outbox).where(Outbox.key == f"crm:qualified:{lead.id}")).first()
        stored = session.get(Message, message_id)
    assert client is not None and client.phone == "+79161234567" and client.email == "olga@example.ru"
    assert client.phone_hash and client.email_hash
    assert lead.product == "ai_analyst" and lead.stage != "new" and crm is not None
    assert stored is not None and "+79161234567" not in str(stored.payload)  # contacts not kept in plain JSON
