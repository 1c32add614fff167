"""The LLM router with the real OpenAI and Anthropic SDKs pointed at local fakes of the three providers."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from typing import Any

import pytest
from loguru import logger

from integrations.llm.errors import LLMError, LLMUnavailable
from integrations.llm.router import LLMResult, LLMRouter
from tests.fakes.anthropic_fake import AnthropicFake
from tests.fakes.openai_fake import OpenAIFake
from tests.support.llm import ANTHROPIC_KEY, OPENAI_KEY
from tests.support.sleep import SleepRecorder
from voronka.settings import load_settings

OPENROUTER_KEY = "sk-or-test"
SYSTEM = "Ты менеджер по продажам."
HELLO = [{"role": "user", "content": "Здравствуйте, сколько стоит ИИ-Юрист?"}]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
async def openrouter_fake() -> AsyncIterator[OpenAIFake]:
    async with OpenAIFake(api_keys={OPENROUTER_KEY}, models={"openai/gpt-4o-mini"}, id_prefix="gen-") as fake:
        yield fake


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_router(openai_fake: OpenAIFake, anthropic_fake: AnthropicFake, openrouter_fake: OpenAIFake,
                      clock: FakeClock, sleeps: SleepRecorder) -> AsyncIterator[Any]:
    routers: list[LLMRouter] = []

    def make(*, usage_sink: Any = None, **overrides: Any) -> LLMRouter:
        values: dict[str, Any] = {
            "LLM_PROVIDER": "openai",
            "OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": openai_fake.base_url, "OPENAI_MODEL": "gpt-4o-mini",
            "ANTHROPIC_API_KEY": ANTHROPIC_KEY, "ANTHROPIC_BASE_URL": anthropic_fake.base_url,
            "ANTHROPIC_MODEL": "claude-3-5-sonnet-latest",
            "OPENROUTER_API_KEY": "", "OPENROUTER_BASE_URL": openrouter_fake.base_url,
            "OPENROUTER_MODEL": "openai/gpt-4o-mini",
            "LLM_TIMEOUT_SECONDS": 5, "LLM_FIRST_TOKEN_SECONDS": 3.0, "LLM_COOLDOWN_SECONDS": 60,
        }
        values.update(overrides)
        router = LLMRouter.from_settings(load_settings(**values), usage_sink=usage_sink, clock=clock, sleep=sleeps)
        routers.append(router)
        return router

    yield make
    for router in routers:
        await router.aclose()


@pytest.fixture
def errors_logged() -> Iterator[list[str]]:
    records: list[str] = []
    sink_id = logger.add(lambda message: records.append(str(message)), level="ERROR", format="{message}")
    yield records
    logger.remove(sink_id)


def chat_requests(fake: OpenAIFake) -> int:
    return len(fake.requests_to("/v1/chat/completions"))


def message_requests(fake: AnthropicFake) -> int:
    return len(fake.requests_to("/v1/messages"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- order ---------------------------------------------------------------------------------------------------


async def test_preferred_provider_first_then_the_others_that_have_keys(make_router: Any) -> None:
    router = make_router(LLM_PROVIDER="anthropic", OPENROUTER_API_KEY=OPENROUTER_KEY)
    assert router.providers == ["anthropic", "openai", "openrouter"]
    assert router.configured

    only_openrouter = make_router(OPENAI_API_KEY="", ANTHROPIC_API_KEY="", OPENROUTER_API_KEY=OPENROUTER_KEY)
    assert only_openrouter.providers == ["openrouter"]


async def test_healthy_preferred_provider_answers(make_router: Any, openai_fake: OpenAIFake,
                                                  anthropic_fake: AnthropicFake) -> None:
    openai_fake.answer_next("Добрый день! ИИ-Юрист проверяет договоры.")
    result = await make_router().complete(SYSTEM, HELLO)
    assert (result.provider, result.text) == ("openai", "Добрый день! ИИ-Юрист проверяет договоры.")
    sent = openai_fake.requests_to("/v1/chat/completions")[0].json
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0] == {"role": "system", "content": SYSTEM}
    assert message_requests(anthropic_fake) == 0


# --- failover ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_fails_over_to_next_provider(make_router: Any, openai_fake: OpenAIFake,
                                                        anthropic_fake: AnthropicFake, status: int) -> None:
    openai_fake.fail_next(status)
    anthropic_fake.answer_next("Ответ резервного провайдера")
    result = await make_router().complete(SYSTEM, HELLO)
    assert (result.provider, result.text) == ("anthropic", "Ответ резервного провайдера")
    assert chat_requests(openai_fake) == 1


async def test_anthropic_overloaded_529_fails_over_to_openai(make_router: Any, openai_fake: OpenAIFake,
                                                             anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.fail_next(529)
    openai_fake.answer_next("Ответ OpenAI")
    result = await make_router(LLM_PROVIDER="anthropic").complete(SYSTEM, HELLO)
    assert (result.provider, result.text) == ("openai", "Ответ OpenAI")
    assert message_requests(anthropic_fake) == 1


async def test_unreachable_provider_fails_over(make_router: Any, anthropic_fake: AnthropicFake) -> None:
    router = make_router(OPENAI_BASE_URL=f"http://127.0.0.1:{free_port()}/v1")
    result = await router.complete(SYSTEM, HELLO)
    assert result.provider == "anthropic"
    assert "openai" in router.cooling_down()


async def test_slow_provider_times_out_and_next_answers(make_router: Any, openai_fake: OpenAIFake,
                                                        anthropic_fake: AnthropicFake) -> None:
    openai_fake.delay_next(10.0)
    anthropic_fake.answer_next("Успели")
    result = await make_router().complete(SYSTEM, HELLO, timeout=0.5)
    assert (result.provider, result.text) == ("anthropic", "Успели")
    assert chat_requests(openai_fake) == 1


async def test_rate_limit_with_short_retry_after_waits_and_retries_same_provider(
        make_router: Any, openai_fake: OpenAIFake, anthropic_fake: AnthropicFake, sleeps: SleepRecorder) -> None:
    openai_fake.rate_limit_next(retry_after=1)
    openai_fake.answer_next("После паузы")
    result = await make_router().complete(SYSTEM, HELLO)
    assert (result.provider, result.text) == ("openai", "После паузы")
    assert sleeps.calls == [1.0]
    assert chat_requests(openai_fake) == 2
    assert message_requests(anthropic_fake) == 0


async def test_rate_limit_twice_moves_on_after_one_retry(make_router: Any, openai_fake: OpenAIFake,
                                                         sleeps: SleepRecorder) -> None:
    openai_fake.rate_limit_next(retry_after=2, times=2)
    result = await make_router().complete(SYSTEM, HELLO)
    assert result.provider == "anthropic"
    assert sleeps.calls == [2.0]
    assert chat_requests(openai_fake) == 2


async def test_rate_limit_with_long_retry_after_goes_to_next_provider_without_waiting(
        make_router: Any, openai_fake: OpenAIFake, sleeps: SleepRecorder) -> None:
    openai_fake.rate_limit_next(retry_after=120)
    router = make_router()
    result = await router.complete(SYSTEM, HELLO)
    assert result.provider == "anthropic"
    assert sleeps.calls == []
    assert router.cooling_down()["openai"] >= 120


async def test_anthropic_rate_limit_honours_retry_after(make_router: Any, anthropic_fake: AnthropicFake,
                                                        sleeps: SleepRecorder) -> None:
    anthropic_fake.rate_limit_next(retry_after=3)
    result = await make_router(LLM_PROVIDER="anthropic").complete(SYSTEM, HELLO)
    assert result.provider == "anthropic"
    assert sleeps.calls == [3.0]
    assert message_requests(anthropic_fake) == 2


async def test_bad_key_fails_over_and_logs_an_error(make_router: Any, openai_fake: OpenAIFake,
                                                    errors_logged: list[str]) -> None:
    router = make_router(OPENAI_API_KEY="sk-wrong-key-123")
    result = await router.complete(SYSTEM, HELLO)
    assert result.provider == "anthropic"
    assert chat_requests(openai_fake) == 1
    assert any("openai" in line and "key" in line for line in errors_logged)
    assert not any("sk-wrong-key-123" in line for line in errors_logged)


async def test_cool_down_skips_failed_provider_then_tries_it_again(
        make_router: Any, openai_fake: OpenAIFake, anthropic_fake: AnthropicFake, clock: FakeClock) -> None:
    router = make_router(LLM_COOLDOWN_SECONDS=60)
    openai_fake.fail_next(500)
    assert (await router.complete(SYSTEM, HELLO)).provider == "anthropic"
    assert chat_requests(openai_fake) == 1

    clock.advance(30)
    assert (await router.complete(SYSTEM, HELLO)).provider == "anthropic"
    assert chat_requests(openai_fake) == 1  # skipped, not even asked

    clock.advance(31)
    assert (await router.complete(SYSTEM, HELLO)).provider == "openai"
    assert chat_requests(openai_fake) == 2
    assert router.cooling_down() == {}


async def test_all_providers_failing_raises_llm_unavailable(make_router: Any, openai_fake: OpenAIFake,
                                                            anthropic_fake: AnthropicFake,
                                                            openrouter_fake: OpenAIFake) -> None:
    openai_fake.fail_next(500)
    anthropic_fake.fail_next(529)
    openrouter_fake.fail_next(503)
    router = make_router(OPENROUTER_API_KEY=OPENROUTER_KEY)
    with pytest.raises(LLMUnavailable) as caught:
        await router.complete(SYSTEM, HELLO)
    assert caught.value.failures == ["openai: server 500", "anthropic: server 529", "openrouter: server 503"]
    # everything is cooling down now: the next call gives up at once, without a request
    with pytest.raises(LLMUnavailable):
        await router.complete(SYSTEM, HELLO)
    assert (chat_requests(openai_fake), message_requests(anthropic_fake), chat_requests(openrouter_fake)) == (1, 1, 1)


async def test_no_keys_means_not_configured_and_unavailable_at_once(make_router: Any) -> None:
    router = make_router(OPENAI_API_KEY="", ANTHROPIC_API_KEY="", OPENROUTER_API_KEY="")
    assert router.configured is False
    assert router.providers == []
    with pytest.raises(LLMUnavailable):
        await router.complete(SYSTEM, HELLO)
    with pytest.raises(LLMUnavailable):
        await router.complete_json(SYSTEM, "привет", timeout=1.0)
    with pytest.raises(LLMUnavailable):
        async for _ in router.stream(SYSTEM, HELLO):
            pass


async def test_offline_provider_setting_turns_the_llm_off_even_with_keys(make_router: Any) -> None:
    router = make_router(LLM_PROVIDER="offline")
    assert router.configured is False
    with pytest.raises(LLMUnavailable):
        await router.complete(SYSTEM, HELLO)


async def test_openrouter_is_reached_through_the_openai_api(make_router: Any, openrouter_fake: OpenAIFake) -> None:
    openrouter_fake.answer_next("Ответ через OpenRouter", input_tokens=2000, output_tokens=1000)
    router = make_router(LLM_PROVIDER="openrouter", OPENROUTER_API_KEY=OPENROUTER_KEY)
    result = await router.complete(SYSTEM, HELLO)
    assert (result.provider, result.model, result.text) == ("openrouter", "openai/gpt-4o-mini",
                                                            "Ответ через OpenRouter")
    assert result.cost_usd == Decimal("0.0009")  # priced as gpt-4o-mini: 2000*0.15/1M + 1000*0.60/1M
    request = openrouter_fake.requests_to("/v1/chat/completions")[0]
    assert request.headers["Authorization"] == f"Bearer {OPENROUTER_KEY}"


# --- requests follow the contracts -----------------------------------------------------------------------------


async def test_anthropic_requests_follow_the_contract(make_router: Any, anthropic_fake: AnthropicFake) -> None:
    history = [
        {"role": "system", "content": "Клиент из Avito."},
        {"role": "assistant", "content": "Здравствуйте! Чем помочь?"},
        {"role": "user", "content": "Нужен ИИ-Юрист"},
    ]
    result = await make_router(LLM_PROVIDER="anthropic").complete(SYSTEM, history, max_tokens=300)
    assert result.provider == "anthropic"
    request = anthropic_fake.requests_to("/v1/messages")[0]
    assert request.headers["x-api-key"] == ANTHROPIC_KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    body = request.json
    assert body["max_tokens"] == 300
    assert body["system"] == f"{SYSTEM}\n\nКлиент из Avito."
    assert body["messages"][0]["role"] == "user"
    assert body["messages"][-1] == {"role": "user", "content": "Нужен ИИ-Юрист"}


async def test_complete_json_uses_json_mode_and_parses(make_router: Any, openai_fake: OpenAIFake) -> None:
    openai_fake.answer_next('{"intent": "price", "product": "ai_lawyer"}')
    parsed = await make_router().complete_json("Определи намерение клиента.", "Сколько стоит юрист?", timeout=2.0)
    assert parsed == {"intent": "price", "product": "ai_lawyer"}
    body = openai_fake.requests_to("/v1/chat/completions")[0].json
    assert body["response_format"] == {"type": "json_object"}
    # the API refuses JSON mode unless "json" is said somewhere; the router says it
    assert "json" in body["messages"][0]["content"].lower()


async def test_complete_json_through_anthropic_accepts_fenced_json(make_router: Any,
                                                                   anthropic_fake: AnthropicFake) -> None:
    anthropic_fake.answer_next('```json\n{"intent": "greeting"}\n```')
    parsed = await make_router(LLM_PROVIDER="anthropic").complete_json("Определи намерение.", "Привет",
                                                                       timeout=2.0)
    assert parsed == {"intent": "greeting"}
    assert "JSON" in anthropic_fake.requests_to("/v1/messages")[0].json["system"]


async def test_complete_json_raises_llm_error_on_prose(make_router: Any, openai_fake: OpenAIFake) -> None:
    openai_fake.answer_next("Клиент, кажется, спрашивает про цену.")
    with pytest.raises(LLMError) as caught:
        await make_router().complete_json("Верни JSON.", "Сколько стоит?", timeout=2.0)
    assert not isinstance(caught.value, LLMUnavailable)


# --- streaming -------------------------------------------------------------------------------------------------


async def test_stream_yields_the_answer_in_pieces_and_records_usage(make_router: Any,
                                                                    openai_fake: OpenAIFake) -> None:
    usage: list[tuple[Any, LLMResult]] = []
    openai_fake.answer_next("Добрый день! Расскажу про ИИ-Аналитика.", input_tokens=120, output_tokens=12)
    router = make_router(usage_sink=lambda lead_id, result: usage.append((lead_id, result)))
    pieces = [piece async for piece in router.stream(SYSTEM, HELLO, lead_id=7)]
    assert len(pieces) > 1
    assert "".join(pieces) == "Добрый день! Расскажу про ИИ-Аналитика."
    [(lead_id, result)] = usage
    assert (lead_id, result.provider, result.input_tokens, result.output_tokens) == (7, "openai", 120, 12)
    assert result.text == "".join(pieces)
    assert result.first_token_ms is not None


async def test_stream_without_first_token_in_time_moves_to_next_provider(
        make_router: Any, openai_fake: OpenAIFake, anthropic_fake: AnthropicFake) -> None:
    usage: list[LLMResult] = []
    openai_fake.stall_stream_next(10.0)  # headers arrive, tokens do not
    anthropic_fake.answer_next("Резервный поток отвечает.", input_tokens=50, output_tokens=6)
    router = make_router(LLM_FIRST_TOKEN_SECONDS=0.4, usage_sink=lambda _lead, result: usage.append(result))
    pieces = [piece async for piece in router.stream(SYSTEM, HELLO)]
    assert "".join(pieces) == "Резервный поток отвечает."
    assert chat_requests(openai_fake) == 1
    assert [(r.provider, r.input_tokens, r.output_tokens) for r in usage] == [("anthropic", 50, 6)]
    assert "openai" in router.cooling_down()


async def test_stream_fails_over_on_server_error_before_first_token(make_router: Any, openai_fake: OpenAIFake,
                                                                    anthropic_fake: AnthropicFake) -> None:
    openai_fake.fail_next(500)
    anthropic_fake.answer_next("Отвечает Anthropic")
    pieces = [piece async for piece in make_router().stream(SYSTEM, HELLO)]
    assert "".join(pieces) == "Отвечает Anthropic"


async def test_stream_all_failing_raises_llm_unavailable(make_router: Any, openai_fake: OpenAIFake,
                                                         anthropic_fake: AnthropicFake) -> None:
    openai_fake.stall_stream_next(10.0)
    anthropic_fake.fail_next(529)
    with pytest.raises(LLMUnavailable):
        async for _ in make_router(LLM_FIRST_TOKEN_SECONDS=0.3).stream(SYSTEM, HELLO):
            pass


# --- usage and cost --------------------------------------------------------------------------------------------


async def test_usage_sink_gets_tokens_and_cost_per_call(make_router: Any, openai_fake: OpenAIFake,
                                                        anthropic_fake: AnthropicFake) -> None:
    written: list[tuple[Any, LLMResult]] = []

    async def sink(lead_id: Any, result: LLMResult) -> None:  # an async DB writer
        written.append((lead_id, result))

    router = make_router(usage_sink=sink)
    openai_fake.answer_next("Первый ответ", input_tokens=1000, output_tokens=500)
    await router.complete(SYSTEM, HELLO, lead_id="lead-1")
    openai_fake.fail_next(500)
    anthropic_fake.answer_next("Второй ответ", input_tokens=1000, output_tokens=200)
    await router.complete(SYSTEM, HELLO, lead_id="lead-2")

    assert [(lead, r.provider, r.model, r.input_tokens, r.output_tokens, r.cost_usd) for lead, r in written] == [
        ("lead-1", "openai", "gpt-4o-mini", 1000, 500, Decimal("0.00045")),  # 1000*0.15/1M + 500*0.60/1M
        ("lead-2", "anthropic", "claude-3-5-sonnet-latest", 1000, 200, Decimal("0.006")),  # 3/1M in, 15/1M out
    ]
    assert all(r.latency_ms >= 0 for _, r in written)


async def test_failing_usage_sink_does_not_lose_the_answer(make_router: Any, openai_fake: OpenAIFake,
                                                           errors_logged: list[str]) -> None:
    def broken_sink(_lead_id: Any, _result: LLMResult) -> None:
        raise RuntimeError("database is down")

    openai_fake.answer_next("Ответ клиенту")
    result = await make_router(usage_sink=broken_sink).complete(SYSTEM, HELLO)
    assert result.text == "Ответ клиенту"
    assert any("usage sink failed" in line for line in errors_logged)
