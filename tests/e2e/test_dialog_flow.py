"""Scripted dialogs through the site chat API with a real worker: greeting → brief → three priced packages → КП PDF."""

from __future__ import annotations

import asyncio
import re
from typing import Any

from db.rate_table import DEFAULT_RATES
from pipelines.price.engine import format_rub, quote
from tests.support.site import Visitor, joined


def price_of(brief: dict[str, Any], code: str) -> str:
    result = quote(brief, DEFAULT_RATES)
    return format_rub(next(p.price for p in result.packages if p.code == code))


async def test_lawyer_brief_in_one_message_to_three_packages(client, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    visitor = Visitor(client, "flow-lawyer")
    first = joined(await visitor.say("Здравствуйте"))
    assert re.search(r"ИИ-(Менеджер|Юрист|Аналитик)", first)
    text = joined(await visitor.say("Нужен ИИ-юрист на 40 юристов, on-prem, нужно за неделю"))
    assert "юрист" in text.lower()
    replies: list[dict[str, Any]] = []
    answers = iter(["Юридическая фирма", "Проверка договоров", "Интеграций нет", "Стандарт", "Иван, ivan@example.ru",
                    "дальше", "дальше"])
    for _ in range(8):
        if "Старт" in text and "Enterprise" in text:
            break
        replies = await visitor.say(next(answers))
        text = joined(replies)
    brief = {"product": "ai_lawyer", "users": 40, "hosting": "onprem", "deadline": "lt1w", "integrations": 0,
             "sla": "standard"}
    assert "Старт" in text and "Оптимум" in text and "Enterprise" in text, text
    for code in ("start", "optimum", "enterprise"):
        assert price_of(brief, code).replace("\u00a0", " ") in text.replace("\u00a0", " ")
    # the offer comes with buttons, one of them asks for the КП
    buttons = [b for r in replies for b in r["buttons"]]
    proposal = next(b for b in buttons if b["callback"].startswith("doc:"))
    doc_replies = await visitor.say(callback=proposal["callback"], timeout=60)
    attachments = [a for r in doc_replies for a in r["attachments"]]
    for _ in range(3):
        if attachments:
            break
        doc_replies = await visitor.say(callback=proposal["callback"], timeout=60)
        attachments = [a for r in doc_replies for a in r["attachments"]]
    assert attachments and attachments[0]["url"].split("?")[0].rsplit("/", 2)[-2] == "d"
    path = "/" + attachments[0]["url"].split("/", 3)[3]
    response = await client.get(path)
    assert response.status == 200
    assert (await response.read()).startswith(b"%PDF")
    tampered = path.replace("sig=", "sig=x")
    assert (await client.get(tampered)).status == 403


async def reach_quote(visitor: Visitor, opening: str, answers: list[str]) -> str:
    text = joined(await visitor.say(opening))
    pending = iter(answers)
    for _ in range(len(answers) + 1):
        if "Старт" in text and "Enterprise" in text:
            return text
        text = joined(await visitor.say(next(pending, "дальше")))
    raise AssertionError(f"no quote; last reply: {text}")


def shows_prices(text: str, brief: dict[str, Any]) -> bool:
    plain = text.replace("\u00a0", " ")
    return all(price_of(brief, code).replace("\u00a0", " ") in plain for code in ("start", "optimum", "enterprise"))


async def test_manager_and_analyst_reach_their_own_prices(client, start_worker) -> None:  # type: ignore[no-untyped-def]
    start_worker()
    manager = Visitor(client, "flow-manager")
    text = await reach_quote(manager, "Здравствуйте! Нужен бот, который отвечает клиентам в Авито и ведёт к сделке",
                             ["Интернет-магазин мебели", "15 менеджеров", "Больше заявок", "amoCRM и сайт",
                              "В облаке", "Стандарт", "Обычные сроки", "дальше"])
    assert "ИИ-Менеджер" in text or "менеджер" in text.lower()
    assert shows_prices(text, {"product": "ai_manager", "users": 15, "integrations": 2, "hosting": "cloud",
                               "sla": "standard", "deadline": "standard"}), text

    analyst = Visitor(client, "flow-analyst")
    text = await reach_quote(analyst, "Интересует ИИ-аналитик для отчётов и прогнозов продаж",
                             ["Дистрибуция", "человек 30", "Прогноз спроса", "1С", "гибрид", "99.5", "за 2 недели",
                              "дальше"])
    assert shows_prices(text, {"product": "ai_analyst", "users": 30, "integrations": 1, "hosting": "hybrid",
                               "sla": "99.5", "deadline": "lt2w"}), text

    # a changed answer recomputes the three packages
    text = joined(await analyst.say("а если 80 человек?"))
    assert shows_prices(text, {"product": "ai_analyst", "users": 80, "integrations": 1, "hosting": "hybrid",
                               "sla": "99.5", "deadline": "lt2w"}), text


async def test_handoff_to_a_person_silences_the_bot(client, start_worker, engine) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text as sql

    start_worker()
    visitor = Visitor(client, "flow-human")
    await visitor.say("Здравствуйте")
    reply = joined(await visitor.say("Позовите, пожалуйста, живого менеджера"))
    assert "менеджер" in reply.lower()
    with engine.connect() as conn:
        lead = conn.execute(sql("SELECT manager_hold, handoff_reason FROM leads")).one()
        assert lead.manager_hold is True and lead.handoff_reason == "client_asked"
        assert conn.execute(sql("SELECT count(*) FROM outbox WHERE kind = 'notify'")).scalar() == 1
    response = await client.post("/api/v1/site/messages", json={"session_id": "flow-human", "text": "Алло?"})
    assert response.status == 202
    await asyncio.sleep(3)
    response = await client.get("/api/v1/site/messages", params={"session_id": "flow-human",
                                                                  "after": str(visitor.last_id)})
    assert [m for m in (await response.json())["messages"] if m["role"] == "assistant"] == []
