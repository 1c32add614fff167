"""One client, one lead, one brief across channels, with a real worker: the Telegram deep link from a site session
joins the site's lead; the same phone given on the site and then in Telegram merges the two leads (the older one
kept, the brief merged with the newest values, an Event "merged")."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Brief, Conversation, Event, Lead, Message, utcnow
from pipelines.channels.identity import deep_link_session, merge_briefs
from tests.fakes.telegram_fake import TelegramFake
from tests.support.channels import TG_PATH, TG_SECRET, tg_message
from tests.support.site import Visitor

pytestmark = pytest.mark.channel_fakes


def test_deep_link_payload() -> None:
    assert deep_link_session("/start site_abc-123") == "abc-123"
    assert deep_link_session("/start@voronka_bot site_s1") == "s1"
    assert deep_link_session("/start") is None
    assert deep_link_session("/start promo") is None
    assert deep_link_session("/help site_x") is None


def test_merged_brief_keeps_the_newest_values() -> None:
    now = utcnow()
    old = Brief(id=1, lead_id=1, data={"product": "ai_lawyer", "users": 10, "name": "Иван"},
                updated_at=now - timedelta(hours=1))
    new = Brief(id=2, lead_id=2, data={"users": 40, "phone": "+79161234567", "name": ""}, updated_at=now)
    assert merge_briefs(old, new) == {"product": "ai_lawyer", "users": 40, "name": "Иван", "phone": "+79161234567"}
    assert merge_briefs(new, old)["users"] == 40  # the order of the arguments does not matter


async def tg_say(client: Any, tg: TelegramFake, chat_id: int, text: str, timeout: float = 30.0) -> list[str]:
    before = len(tg.texts(chat_id))
    response = await client.post(TG_PATH, json=tg_message(chat_id, text),
                                 headers={"X-Telegram-Bot-Api-Secret-Token": TG_SECRET})
    assert response.status == 200
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(tg.texts(chat_id)) > before:
            await asyncio.sleep(0.6)
            return tg.texts(chat_id)[before:]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no answer to {text!r}")


def open_leads(session: Session) -> list[Lead]:
    return list(session.exec(select(Lead).where(Lead.stage != "lost")).all())


async def test_telegram_deep_link_continues_the_site_brief(  # type: ignore[no-untyped-def]
        client, worker, tg_fake: TelegramFake, engine) -> None:
    visitor = Visitor(client, "site-deep-1")
    await visitor.say("Здравствуйте")
    await visitor.say("Нужен ИИ-юрист на 40 юристов")
    with Session(engine) as session:
        site_lead = session.exec(select(Lead)).one()
        assert session.exec(select(Brief).where(Brief.lead_id == site_lead.id)).one().data["product"] == "ai_lawyer"
    answers = await tg_say(client, tg_fake, 80001, "/start site_site-deep-1")
    assert "Какой продукт" not in "\n".join(answers)
    with Session(engine) as session:
        telegram = session.exec(select(Conversation).where(Conversation.channel == "telegram")).one()
        assert telegram.lead_id == site_lead.id  # the Telegram chat joined the site's lead
        assert [lead.id for lead in open_leads(session)] == [site_lead.id]
        brief = session.exec(select(Brief).where(Brief.lead_id == site_lead.id)).one().data
        assert brief["product"] == "ai_lawyer" and brief["users"] == 40
        assert session.exec(select(Event).where(Event.kind == "merged", Event.lead_id == site_lead.id)).first()
        # the whole history is one lead's: the site messages and the Telegram ones
        channels = {m.channel for m in session.exec(select(Message).where(Message.lead_id == site_lead.id))}
        assert channels == {"site", "telegram"}


async def test_same_phone_on_site_then_telegram_merges_the_leads(  # type: ignore[no-untyped-def]
        client, worker, tg_fake: TelegramFake, engine) -> None:
    visitor = Visitor(client, "site-phone-1")
    await visitor.say("Здравствуйте")
    await visitor.say("Нужен ИИ-юрист. Меня зовут Иван, мой телефон +7 916 123-45-67")
    with Session(engine) as session:
        site_lead = session.exec(select(Lead)).one()
    await tg_say(client, tg_fake, 80002, "/start")
    await tg_say(client, tg_fake, 80002, "Это снова Иван, мой номер 8 (916) 123-45-67. Нас 40 юристов")
    deadline = time.monotonic() + 20
    merged = None
    while time.monotonic() < deadline and merged is None:
        with Session(engine) as session:
            merged = session.exec(select(Event).where(Event.kind == "merged")).first()
        await asyncio.sleep(0.2)
    assert merged is not None and merged.lead_id == site_lead.id and merged.data["reason"] == "same_contact"
    with Session(engine) as session:
        assert [lead.id for lead in open_leads(session)] == [site_lead.id]  # the older lead is kept
        conversations = session.exec(select(Conversation).where(Conversation.lead_id == site_lead.id)).all()
        assert {c.channel for c in conversations} == {"site", "telegram"}
        brief = session.exec(select(Brief).where(Brief.lead_id == site_lead.id)).one().data
        assert brief["product"] == "ai_lawyer" and brief["phone"] == "+79161234567"
        closed = session.exec(select(Lead).where(Lead.stage == "lost")).one()
        assert closed.handoff_reason == f"merged into #{site_lead.id}"
    # the next Telegram message is answered on the merged lead
    await tg_say(client, tg_fake, 80002, "Сколько это будет стоить?")
    with Session(engine) as session:
        last = session.exec(select(Message).where(Message.channel == "telegram", Message.direction == "out")
                            .order_by(Message.id.desc())).first()  # type: ignore[union-attr]
        assert last is not None and last.lead_id == site_lead.id
