"""Site dialogs with an LLM configured: a real worker process whose OpenAI/Anthropic SDKs talk to local fakes.

Every client text is first understood (a JSON call: offline rules refined by the LLM), and a question about the
agency, the services or an objection is then answered by a second call. The fakes serve scripted answers in order,
so each turn scripts the understanding answer first and the reply second.
"""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from db.models import Event
from integrations.llm.pricing import cost_usd
from pipelines.dialog import texts
from pipelines.knowledge.embedders import OfflineEmbedder
from pipelines.knowledge.ingest import ingest_path
from tests.fakes.anthropic_fake import AnthropicFake
from tests.fakes.openai_fake import OpenAIFake
from tests.support.llm import ANTHROPIC_KEY, OPENAI_KEY
from tests.support.site import Visitor, joined

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "Где будут храниться наши данные?"
LLM_ANSWER = "Всё хранится в России: в Yandex Cloud (регион ru-central1) или целиком на ваших серверах."
NO_CHANGE = json.dumps({})  # an understanding answer with nothing to add: the offline result stands


@pytest.fixture(autouse=True)
def understanding_adds_nothing(request: pytest.FixtureRequest) -> None:
    """Unless a test scripts it, the LLM fakes' JSON (understanding) answer adds nothing."""
    for name in ("openai_fake", "anthropic_fake"):
        if name in request.fixturenames:
            request.getfixturevalue(name).default_json_answer = NO_CHANGE


@pytest.fixture
async def offline_knowledge(clean_db: Engine) -> None:
    """The knowledge base ingested with the offline embedder."""
    def ingest() -> None:
        with Session(clean_db) as session:
            ingest_path(session, ROOT / "knowledge_base", embedder=OfflineEmbedder())

    await asyncio.to_thread(ingest)


def llm_env(openai_fake: OpenAIFake, anthropic_fake: AnthropicFake | None = None, **extra: str) -> dict[str, str]:
    env = {"LLM_PROVIDER": "openai", "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai_fake.base_url,
           "ANTHROPIC_API_KEY": "", "OPENROUTER_API_KEY": "", "KB_EMBEDDER": "offline", "LLM_TIMEOUT_SECONDS": "3"}
    if anthropic_fake is not None:
        env.update(ANTHROPIC_API_KEY=ANTHROPIC_KEY, ANTHROPIC_BASE_URL=anthropic_fake.base_url)
    env.update(extra)
    return env


USERS_QUESTION = texts.Q_USERS["ai_lawyer"]


async def to_the_brief(visitor: Visitor) -> None:
    """Greeting, product, industry: the dialog then waits for the number of users."""
    await visitor.say("Здравствуйте")
    assert texts.Q_INDUSTRY in joined(await visitor.say("Нужен ИИ-юрист"))
    assert USERS_QUESTION in joined(await visitor.say("Юридическая фирма"))


def usage_events(engine: Engine) -> list[Event]:
    with Session(engine) as session:
        return list(session.exec(select(Event).where(Event.kind == "llm_usage").order_by(col(Event.id))).all())


async def test_a_faq_question_is_answered_by_the_llm_and_the_brief_continues(
        client: Any, start_worker: Any, openai_fake: OpenAIFake, offline_knowledge: None, clean_db: Engine) -> None:
    start_worker(**llm_env(openai_fake))
    visitor = Visitor(client, "llm-faq")
    await to_the_brief(visitor)
    openai_fake.answer_next(NO_CHANGE, input_tokens=300, output_tokens=20)  # understanding
    openai_fake.answer_next(LLM_ANSWER, input_tokens=1500, output_tokens=60)  # the reply
    replies = await visitor.say(QUESTION)
    text = joined(replies)
    assert LLM_ANSWER in text
    assert text.rstrip().endswith(USERS_QUESTION)  # the funnel goes on with the same question
    # the model was given the knowledge base's answer to ground on
    reply_request = [r for r in openai_fake.requests_to("/v1/chat/completions")
                     if "response_format" not in r.json][-1]
    assert "ru-central1" in reply_request.json["messages"][0]["content"]

    events = usage_events(clean_db)
    assert {e.data["purpose"] for e in events} == {"understand", "reply"}
    assert len({e.lead_id for e in events}) == 1 and events[0].lead_id is not None
    reply_event = next(e for e in events if e.data["purpose"] == "reply")
    assert (reply_event.data["provider"], reply_event.data["model"]) == ("openai", "gpt-4o-mini")
    assert (reply_event.data["input_tokens"], reply_event.data["output_tokens"]) == (1500, 60)
    assert Decimal(str(reply_event.data["cost_usd"])) == cost_usd("gpt-4o-mini", 1500, 60)
    assert reply_event.channel == "site"
    assert sum(1 for e in events if e.data["purpose"] == "understand") == 4  # one per client text


async def test_an_invented_price_is_replaced_by_the_offline_answer(
        client: Any, start_worker: Any, openai_fake: OpenAIFake, offline_knowledge: None) -> None:
    start_worker(**llm_env(openai_fake))
    visitor = Visitor(client, "llm-price")
    await to_the_brief(visitor)
    openai_fake.answer_next(NO_CHANGE)
    openai_fake.answer_next("Храним данные в России, и всего 50 000 ₽ за всё.")
    text = joined(await visitor.say(QUESTION))
    assert "50 000" not in text and "50\u00a0000" not in text
    assert "ru-central1" in text  # the offline answer from the knowledge base
    assert text.rstrip().endswith(USERS_QUESTION)


async def test_openai_500_anthropic_answers(client: Any, start_worker: Any, openai_fake: OpenAIFake,
                                            anthropic_fake: AnthropicFake, offline_knowledge: None,
                                            clean_db: Engine) -> None:
    start_worker(**llm_env(openai_fake, anthropic_fake))
    visitor = Visitor(client, "llm-failover")
    await to_the_brief(visitor)
    openai_fake.fail_next(500)
    anthropic_fake.answer_next(NO_CHANGE)  # the understanding fails over first; OpenAI then cools down
    anthropic_fake.answer_next(LLM_ANSWER)
    text = joined(await visitor.say(QUESTION))
    assert LLM_ANSWER in text
    last = usage_events(clean_db)[-2:]
    assert [(e.data["provider"], e.data["purpose"]) for e in last] == [("anthropic", "understand"),
                                                                        ("anthropic", "reply")]


async def test_all_providers_down_the_client_still_gets_the_offline_answer(
        client: Any, start_worker: Any, openai_fake: OpenAIFake, anthropic_fake: AnthropicFake,
        offline_knowledge: None) -> None:
    start_worker(**llm_env(openai_fake, anthropic_fake))
    visitor = Visitor(client, "llm-down")
    await to_the_brief(visitor)
    openai_fake.fail_next(500, times=5)
    anthropic_fake.fail_next(529, times=5)
    text = joined(await visitor.say(QUESTION, timeout=8))
    assert "ru-central1" in text and text.rstrip().endswith(USERS_QUESTION)
    # both providers cool down: the next turns answer offline without waiting on them
    text = joined(await visitor.say("40 юристов", timeout=8))
    assert "40" in text


async def test_the_llm_fixes_a_slot_the_offline_rules_misread(client: Any, start_worker: Any,
                                                              openai_fake: OpenAIFake) -> None:
    start_worker(**llm_env(openai_fake))
    visitor = Visitor(client, "llm-understand")
    await to_the_brief(visitor)
    openai_fake.answer_next(json.dumps({"intent": "brief", "product": "ai_lawyer", "emotion": "neutral",
                                        "slots": {"users": 24}, "confidence": 0.9}))
    text = joined(await visitor.say("сотрудников две дюжины"))  # the rules read «две» as 2
    assert "24 " in text, text
    assert "2 пользовател" not in text


async def test_an_understanding_timeout_keeps_the_offline_result(client: Any, start_worker: Any,
                                                                 openai_fake: OpenAIFake) -> None:
    start_worker(**llm_env(openai_fake, LLM_TIMEOUT_SECONDS="2"))
    visitor = Visitor(client, "llm-slow")
    await visitor.say("Здравствуйте")
    openai_fake.delay_next(30)  # the understanding call hangs ...
    openai_fake.answer_next(json.dumps({"intent": "brief", "product": "ai_analyst", "slots": {"users": 7}}))
    text = joined(await visitor.say("Нужен ИИ-юрист на 40 юристов", timeout=15))
    assert "40" in text and "Юрист" in text  # ... and the offline understanding stands
    assert "Аналитик" not in text
