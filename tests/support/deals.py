"""Helpers for the deals tests: a lead with a brief, the worker's action loop run in-process, what the worker
sent. The fakes and the mailbox are in tests/support/deal_fakes.py, their fixtures in tests/fixtures/deals.py."""

from __future__ import annotations

from typing import Any

from loguru import logger
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Brief, Client, Conversation, Lead, Message, Outbox
from pipelines.integrate.dispatch import run_action
from pipelines.runtime import Runtime

BRIEF = {"product": "ai_lawyer", "users": 40, "integrations": 0, "hosting": "cloud", "sla": "standard",
         "deadline": "standard", "name": "Анна", "phone": "+79161234567", "email": "anna@example.ru",
         "industry": "Юридическая фирма"}


def make_lead(engine: Engine, *, channel: str = "site", chat: str = "chat-1", brief: dict[str, Any] | None = None,
              package: str | None = "optimum") -> tuple[int, int]:
    """A qualified lead with its client, brief and conversation; returns (lead id, conversation id)."""
    data = dict(BRIEF if brief is None else brief)
    with Session(engine, expire_on_commit=False) as session:
        client = Client(name=data.get("name"), phone=data.get("phone"), email=data.get("email"))
        session.add(client)
        session.flush()
        assert client.id is not None
        lead = Lead(client_id=client.id, channel=channel, source_tag=f"{channel}-lead", product=data["product"],
                    stage="quoted", chosen_package=package)
        session.add(lead)
        session.flush()
        assert lead.id is not None
        session.add(Brief(lead_id=lead.id, data=data, version=2))
        conversation = Conversation(lead_id=lead.id, channel=channel, external_chat_id=chat)
        session.add(conversation)
        session.commit()
        assert conversation.id is not None
        return lead.id, conversation.id


def add_action(engine: Engine, lead_id: int, conversation_id: int | None, action: str, data: dict[str, Any],
               key: str) -> int:
    with Session(engine) as session:
        row = Outbox(key=key, lead_id=lead_id, conversation_id=conversation_id, channel="site", kind="action",
                     payload={"action": action, "data": data})
        session.add(row)
        session.commit()
        assert row.id is not None
        return row.id


def drain_actions(deps: Runtime, lead_id: int | None = None, *, rounds: int = 20) -> list[str]:
    """What the worker does: run every pending action row (and those they add) until none is left.

    Returns the action names run. A failing action is retried like the queue would (up to MAX_RETRIES)."""
    done: list[str] = []
    for _ in range(rounds):
        with Session(deps.engine) as session:
            query = select(Outbox).where(Outbox.kind == "action", Outbox.status == "pending")
            if lead_id is not None:
                query = query.where(Outbox.lead_id == lead_id)
            rows = session.exec(query.order_by(col(Outbox.id))).all()
        if not rows:
            return done
        for row in rows:
            assert row.id is not None
            try:
                run_action(deps, row.id)
            except Exception as exc:  # the queue would retry it: so does the next round
                logger.info("action {} failed, retried next round: {}", row.payload.get("action"), exc)
                done.append(f"failed:{row.payload.get('action')}")
            done.append(str(row.payload.get("action")))
    raise AssertionError(f"actions keep coming: {done[-10:]}")


def bot_messages(engine: Engine, conversation_id: int) -> list[Message]:
    with Session(engine) as session:
        return list(session.exec(select(Message).where(Message.conversation_id == conversation_id,
                                                       Message.direction == "out").order_by(col(Message.id))).all())


def outbox_rows(engine: Engine, kind: str, lead_id: int | None = None) -> list[Outbox]:
    with Session(engine) as session:
        query = select(Outbox).where(Outbox.kind == kind)
        if lead_id is not None:
            query = query.where(Outbox.lead_id == lead_id)
        return list(session.exec(query.order_by(col(Outbox.id))).all())
