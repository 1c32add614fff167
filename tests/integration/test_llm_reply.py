"""The online reply stage in-process: the real router and SDKs against the local OpenAI/Anthropic fakes.

``llm_answer`` is sync (it runs in a worker thread and blocks on the process's LLM loop), while the fakes serve on
the test's event loop, so the tests call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlmodel import Session, select

from db.models import Client, Event, Lead
from db.rate_table import DEFAULT_RATES
from integrations.llm.pricing import cost_usd
from integrations.llm.router import LLMRouter
from pipelines.dialog.engine import decide, expecting_slot
from pipelines.dialog.pricing import rub, start_price
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Decision, DialogInput, Knowledge
from pipelines.llm_reply import ReplyInput, llm_answer, plain_answer, refine_decision
from pipelines.llm_usage import UsageTag, make_usage_sink
from pipelines.runtime import Runtime
from pipelines.understand.offline import understand_offline
from tests.fakes.anthropic_fake import AnthropicFake
from tests.fakes.openai_fake import OpenAIFake
from tests.support.llm import ANTHROPIC_KEY, OPENAI_KEY
from voronka.asyncbridge import AsyncBridge
from voronka.vocabulary import Product

QUESTION = "Где будут храниться наши данные?"
KNOWLEDGE = [Knowledge(
    title="Где хранятся данные",
    text="## Где хранятся данные\n\nОблако: Yandex Cloud, регион ru-central1 (дата-центры в России). "
         "On-premise: всё на ваших серверах, включая языковую модель. Журнал действий хранится 12 месяцев.",
    source="knowledge_base/faq/hosting.md", doc_type="faq")]
OFFLINE = ("Облако: Yandex Cloud, регион ru-central1 (дата-центры в России). On-premise: всё на ваших серверах, "
           "включая языковую модель. Журнал действий хранится 12 месяцев.")
USERS_QUESTION = "Сколько юристов и сотрудников будут пользоваться ИИ-Юристом?"
GOOD = "Данные хранятся в России: в Yandex Cloud (регион ru-central1) или целиком на ваших серверах."


@pytest.fixture
async def make_deps(settings: Any, openai_fake: OpenAIFake,
                    anthropic_fake: AnthropicFake) -> AsyncIterator[Any]:
    made: list[Runtime] = []

    def make(*, engine: Any = None, anthropic: bool = True, **overrides: Any) -> Runtime:
        values: dict[str, Any] = {
            "LLM_PROVIDER": "openai", "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai_fake.base_url,
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY if anthropic else "", "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
            "OPENROUTER_API_KEY": "", "LLM_TIMEOUT_SECONDS": 10, **overrides,
        }
        configured = settings.model_copy(update=values)
        router = LLMRouter.from_settings(configured, usage_sink=make_usage_sink(engine))
        deps = Runtime(settings=configured, engine=engine, llm=router, bridge=AsyncBridge(name="test-llm"))
        made.append(deps)
        return deps

    yield make
    for deps in made:
        assert deps.llm is not None
        await asyncio.to_thread(deps.bridge.run, deps.llm.aclose(), timeout=5)
        deps.bridge.close()


def dialog_turn(text: str = QUESTION, *, channel: str = "site", knowledge: list[Knowledge] | None = None,
                state: DialogState | None = None,
                brief: dict[str, Any] | None = None) -> tuple[Decision, ReplyInput]:
    """The offline decision for a question asked while the dialog waits for the number of users."""
    state = state if state is not None else DialogState(greeted=True, product=Product.AI_LAWYER, step="users",
                                                        asked=["industry", "users"])
    brief = brief if brief is not None else {"product": "ai_lawyer", "industry": "логистика"}
    knowledge = KNOWLEDGE if knowledge is None else knowledge
    understanding = understand_offline(text, current_product=brief.get("product"), expecting=expecting_slot(state))
    decision = decide(DialogInput(channel=channel, text=text, callback=None, understanding=understanding,
                                  state=state, brief=brief, history=[], knowledge=knowledge, rates=DEFAULT_RATES,
                                  quotes_done=0, max_quote_recalculations=3, now=datetime.now(UTC)))
    return decision, ReplyInput(channel=channel, text=text, understanding=understanding, knowledge=knowledge,
                                history=[], rates=DEFAULT_RATES)


async def answer(deps: Runtime, decision: Decision, inp: ReplyInput,
                 usage: UsageTag | None = None) -> tuple[Decision, Any]:
    return await asyncio.to_thread(llm_answer, deps, decision, inp, usage)


def test_the_offline_decision_holds_the_offline_answer_and_the_next_question() -> None:
    decision, _ = dialog_turn()
    assert decision.replies[0].text == OFFLINE + "\n\n" + USERS_QUESTION


async def test_the_llm_writes_the_answer_and_the_question_and_buttons_stay(make_deps: Any,
                                                                           openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.answer_next(f"**Коротко:** {GOOD}")
    refined, outcome = await answer(deps, decision, inp)
    assert outcome.used and outcome.provider == "openai"
    assert refined.replies[0].text == "Коротко: " + GOOD + "\n\n" + USERS_QUESTION
    assert refined.replies[0].buttons == decision.replies[0].buttons
    assert refined.state == decision.state and refined.brief == decision.brief
    # the model saw the knowledge, the rules, and the question the bot asks after it
    request = openai_fake.requests_to("/v1/chat/completions")[-1].json
    system = request["messages"][0]["content"]
    assert "ru-central1" in system and "НИКОГДА не называй цену" in system
    assert USERS_QUESTION in system
    assert request["messages"][-1] == {"role": "user", "content": QUESTION}


async def test_an_invented_price_falls_back_to_the_offline_answer(make_deps: Any, openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.answer_next("Хранение в облаке России, всего 50 000 ₽ в месяц.")
    refined, outcome = await answer(deps, decision, inp)
    assert not outcome.used and outcome.reason == "ungrounded_price"
    assert refined.replies[0].text == OFFLINE + "\n\n" + USERS_QUESTION


async def test_a_price_from_the_pricing_engine_may_be_named(make_deps: Any, openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    lawyer_from = rub(start_price("ai_lawyer", DEFAULT_RATES))
    openai_fake.answer_next(f"Данные хранятся в России. ИИ-Юрист стоит от {lawyer_from}.")
    refined, outcome = await answer(deps, decision, inp)
    assert outcome.used, outcome
    assert lawyer_from in refined.replies[0].text


async def test_an_invented_figure_or_an_overlong_answer_is_not_sent(make_deps: Any,
                                                                    openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.answer_next("Данные хранятся в России, аптайм 99,99% гарантирован договором.")
    refined, outcome = await answer(deps, decision, inp)
    assert (outcome.used, outcome.reason) == (False, "unknown_number")
    assert "99,99" not in refined.replies[0].text
    openai_fake.answer_next("Данные хранятся в России. " * 40)
    refined, outcome = await answer(deps, decision, inp)
    assert (outcome.used, outcome.reason) == (False, "too_long")
    assert refined.replies[0].text.startswith(OFFLINE)


async def test_openai_500_then_anthropic_answers(make_deps: Any, openai_fake: OpenAIFake,
                                                 anthropic_fake: AnthropicFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.fail_next(500)
    anthropic_fake.answer_next(GOOD)
    refined, outcome = await answer(deps, decision, inp)
    assert outcome.used and outcome.provider == "anthropic"
    assert refined.replies[0].text == GOOD + "\n\n" + USERS_QUESTION


async def test_all_providers_down_keeps_the_offline_answer(make_deps: Any, openai_fake: OpenAIFake,
                                                           anthropic_fake: AnthropicFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.fail_next(503)
    anthropic_fake.fail_next(529)
    refined, outcome = await answer(deps, decision, inp)
    assert (outcome.used, outcome.reason) == (False, "failed")
    assert refined.replies == decision.replies
    # both cool down: the next question does not even try them, and still gets the offline answer
    calls = len(openai_fake.requests) + len(anthropic_fake.requests)
    refined, outcome = await answer(deps, decision, inp)
    assert refined.replies == decision.replies
    assert len(openai_fake.requests) + len(anthropic_fake.requests) == calls


async def test_a_hanging_provider_is_abandoned_within_the_timeout(make_deps: Any, openai_fake: OpenAIFake) -> None:
    deps = make_deps(anthropic=False, LLM_TIMEOUT_SECONDS=1)
    decision, inp = dialog_turn()
    openai_fake.delay_next(30)
    refined, outcome = await asyncio.wait_for(answer(deps, decision, inp), 10)
    assert not outcome.used and outcome.reason in ("failed", "timeout")
    assert refined.replies == decision.replies


async def test_consecutive_calls_share_the_sdk_clients(make_deps: Any, openai_fake: OpenAIFake) -> None:
    # asyncio.run per call broke every second call («Event loop is closed»); the LLM loop keeps them working
    deps = make_deps(anthropic=False)
    decision, inp = dialog_turn()
    for word in ("первый", "второй", "третий", "четвёртый"):
        openai_fake.answer_next(f"Данные хранятся в России, ответ {word}.")
        refined, outcome = await answer(deps, decision, inp)
        assert outcome.used, (word, outcome)
        assert f"ответ {word}." in refined.replies[0].text


async def test_only_knowledge_questions_go_to_the_llm(make_deps: Any, openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    for text in ("Сколько стоит?", "40 юристов", "Хочу поговорить с менеджером"):
        decision, inp = dialog_turn(text)
        refined, outcome = await answer(deps, decision, inp)
        assert (outcome.used, outcome.reason) == (False, "not_applicable"), text
        assert refined.replies == decision.replies
    decision, inp = dialog_turn(knowledge=[])  # nothing retrieved: nothing to ground an answer in
    _, outcome = await answer(deps, decision, inp)
    assert not outcome.used
    assert openai_fake.requests_to("/v1/chat/completions") == []


async def test_avito_answers_are_plain_text(make_deps: Any, openai_fake: OpenAIFake) -> None:
    deps = make_deps()
    decision, inp = dialog_turn(channel="avito")
    openai_fake.answer_next("### Хранение\n\n- **Облако** Yandex Cloud в России.\n- Или `on-premise` у вас.")
    refined, outcome = await answer(deps, decision, inp)
    assert outcome.used
    text = refined.replies[0].text
    assert not any(mark in text for mark in "*#`"), text
    assert "Облако Yandex Cloud в России." in text and text.endswith("больше 200.")


def test_markdown_is_stripped_but_lines_kept_off_avito() -> None:
    text = plain_answer("## Итог\n**Да**, храним в России.\n\n* облако;\n* [ваши серверы](http://x).", "telegram")
    assert text == "Итог\nДа, храним в России.\n\n— облако;\n— ваши серверы."


def _lead(session: Session) -> int:
    client = Client()
    session.add(client)
    session.flush()
    assert client.id is not None
    lead = Lead(client_id=client.id, channel="site", source_tag="site-lead")
    session.add(lead)
    session.commit()
    assert lead.id is not None
    return lead.id


async def test_usage_of_a_turn_is_recorded_per_lead(make_deps: Any, openai_fake: OpenAIFake, db: Session,
                                                    clean_db: Any) -> None:
    lead_id = _lead(db)
    deps = make_deps(engine=clean_db)
    decision, inp = dialog_turn()
    openai_fake.answer_next(GOOD, input_tokens=1200, output_tokens=80)
    usage = UsageTag(lead_id, channel="site", buffer=[])
    refined = await asyncio.to_thread(refine_decision, deps, db, decision, inp, usage)
    assert refined.replies[0].text.startswith(GOOD)
    db.commit()
    events = db.exec(select(Event).where(Event.kind == "llm_usage", Event.lead_id == lead_id)).all()
    assert len(events) == 1
    data = events[0].data
    assert (data["provider"], data["model"], data["purpose"]) == ("openai", "gpt-4o-mini", "reply")
    assert (data["input_tokens"], data["output_tokens"]) == (1200, 80)
    assert Decimal(str(data["cost_usd"])) == cost_usd("gpt-4o-mini", 1200, 80)
    assert data["latency_ms"] >= 0 and events[0].channel == "site"
    assert usage.buffer == []


async def test_a_call_outside_a_turn_is_recorded_in_its_own_transaction(make_deps: Any, anthropic_fake: AnthropicFake,
                                                                        db: Session, clean_db: Any) -> None:
    lead_id = _lead(db)
    deps = make_deps(engine=clean_db, LLM_PROVIDER="anthropic")
    anthropic_fake.answer_next("Готово.", input_tokens=50, output_tokens=5)
    await asyncio.to_thread(deps.bridge.run, deps.llm.complete("Ты помощник.", [{"role": "user", "content": "Привет"}],
                                                               lead_id=lead_id), timeout=10)
    db.expire_all()
    events = db.exec(select(Event).where(Event.kind == "llm_usage")).all()
    assert [(e.lead_id, e.data["provider"], e.data["input_tokens"], e.data["purpose"]) for e in events] == [
        (lead_id, "anthropic", 50, "other")]


async def test_usage_increments_the_prometheus_counters(make_deps: Any, openai_fake: OpenAIFake) -> None:
    from voronka import metrics

    labels = {"provider": "openai", "model": "gpt-4o-mini", "direction": "input"}

    def tokens_in() -> float:
        return metrics.REGISTRY.get_sample_value("voronka_llm_tokens_total", labels) or 0.0

    before = tokens_in()
    deps = make_deps()
    decision, inp = dialog_turn()
    openai_fake.answer_next(GOOD, input_tokens=700, output_tokens=30)
    _, outcome = await answer(deps, decision, inp, UsageTag(None, buffer=[]))
    assert outcome.used
    assert tokens_in() - before == 700
