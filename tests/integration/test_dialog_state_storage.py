"""The dialog state on ``conversations.state``: a turn writes the versioned model, and a row written by the old
code (an untyped dict, here with a key this version no longer knows and a broken value) keeps the conversation
going and is rewritten in the current shape."""

from __future__ import annotations

import asyncio

import redis as redis_lib
from sqlmodel import Session, select

from db.engine import make_async_engine
from db.models import Brief, Conversation, Message
from pipelines.conversation import handle_inbound
from pipelines.dialog.state import CURRENT_VERSION, DialogState
from pipelines.inbox import Inbound, record_inbound
from pipelines.runtime import Runtime


def say(deps: Runtime, database_url: str, session_id: str, text: str) -> list[str]:
    async def store() -> int:
        engine = make_async_engine(database_url, pool_size=1)
        async with engine.begin() as conn:
            recorded = await record_inbound(conn, Inbound(channel="site", external_chat_id=session_id,
                                                          external_user_id=session_id, external_id=None, text=text))
        await engine.dispose()
        return recorded.message_id

    message_id = asyncio.run(store())
    handle_inbound(deps, message_id)
    with Session(deps.engine) as session:
        rows = session.exec(select(Message).where(Message.direction == "out", Message.id > message_id)
                            .order_by(Message.id)).all()  # type: ignore[arg-type]
        return [m.text for m in rows]


def test_a_turn_stores_the_versioned_state_and_an_old_row_goes_on(settings, clean_db, database_url,  # type: ignore[no-untyped-def]
                                                                   redis_url) -> None:
    deps = Runtime(settings=settings, engine=clean_db, redis=redis_lib.Redis.from_url(redis_url))
    say(deps, database_url, "state-1", "Здравствуйте")
    say(deps, database_url, "state-1", "Нужен ИИ-юрист")
    with Session(clean_db) as session:
        conversation = session.exec(select(Conversation)).one()
        stored = dict(conversation.state)
        assert stored["version"] == CURRENT_VERSION and stored["greeted"] is True and stored["last_seen"]
        state = DialogState.load(stored)
        assert state.step is not None and state.step in state.asked
        # the same conversation as the old code stored it: no version, a retired key, a value it never checked
        old = {key: value for key, value in stored.items() if key != "version"}
        conversation.state = {**old, "retired_counter": 3, "price_asks": "many"}
        session.add(conversation)
        session.commit()
    replies = say(deps, database_url, "state-1", "40 юристов")
    assert replies
    with Session(clean_db) as session:
        rewritten = session.exec(select(Conversation)).one().state
        brief = session.exec(select(Brief)).one().data
    assert brief["product"] == "ai_lawyer" and brief["users"] == 40
    assert rewritten["version"] == CURRENT_VERSION
    assert "retired_counter" not in rewritten and "price_asks" not in rewritten
    assert DialogState.load(rewritten).dump() == rewritten
