"""The LLM pass over offline understanding: valid answers win, garbage and timeouts leave the offline result."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from pipelines.understand.llm_refine import understand


class FakeLLM:
    """Implements the ``complete_json`` the LLM router offers; records what it was asked."""

    def __init__(self, answer: Any = None, *, delay: float = 0.0, error: Exception | None = None) -> None:
        self.answer = answer
        self.delay = delay
        self.error = error
        self.calls: list[tuple[str, str, float]] = []

    async def complete_json(self, system: str, user: str, *, timeout: float) -> dict[str, Any]:
        self.calls.append((system, user, timeout))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.error:
            raise self.error
        return self.answer


async def test_without_llm_the_offline_result_is_returned() -> None:
    u = await understand("юрист на 20 человек сколько стоит")
    assert (u.source, u.intent, u.product, u.slots) == ("offline", "price", "ai_lawyer", {"users": 20})


async def test_a_good_llm_answer_wins_and_keeps_offline_slots_it_omits() -> None:
    llm = FakeLLM({"intent": "brief", "product": "ai_analyst", "emotion": "positive",
                   "slots": {"integrations": 2, "hosting": "onprem", "industry": "логистика"}, "confidence": 0.93})
    u = await understand("у нас 12 человек, хотим отчёты из 1С и амо, ставим у себя", llm=llm)
    assert u.source == "llm"
    assert (u.intent, u.product, u.emotion) == ("brief", "ai_analyst", "positive")
    assert u.slots["users"] == 12  # offline found it, the LLM did not mention it
    assert u.slots["hosting"] == "onprem" and u.slots["industry"] == "логистика"
    assert u.confidence == pytest.approx(0.93)
    system, user, timeout = llm.calls[0]
    assert "ai_lawyer" in system and "objection" in system
    assert "у нас 12 человек" in user and timeout == 5.0


async def test_invalid_values_from_the_llm_are_dropped(warnings: list[str]) -> None:
    llm = FakeLLM({"intent": "buy_now", "product": "ai_accountant", "emotion": "angry",
                   "slots": {"users": "много", "hosting": "moon", "sla": 99.9, "phone": "12", "deadline": "lt1w"}})
    u = await understand("нужен ии менеджер на 30 человек", llm=llm)
    assert (u.intent, u.product, u.emotion) == ("brief", "ai_manager", "neutral")  # offline values stand
    assert u.slots == {"users": 30, "sla": "99.9", "deadline": "lt1w"}  # only the valid LLM slots were merged
    assert u.source == "llm"


@pytest.mark.parametrize("garbage", [["not", "an", "object"], {}, {"intent": 5, "slots": "no"}, "текст"])
async def test_garbage_answers_leave_the_offline_result(garbage: Any, warnings: list[str]) -> None:
    u = await understand("дорого", llm=FakeLLM(garbage))
    assert (u.source, u.intent, u.emotion) == ("offline", "objection", "negative")
    assert warnings


async def test_a_slow_llm_times_out_and_the_offline_result_stands(warnings: list[str]) -> None:
    text = "позвоните мне на 8 916 123-45-67, я Иван"
    u = await understand(text, llm=FakeLLM({"intent": "human"}, delay=2.0), timeout=0.05)
    assert (u.source, u.intent, u.slots["phone"]) == ("offline", "booking", "+79161234567")
    assert any("timed out" in w for w in warnings)
    assert not any("916" in w or "Иван" in w for w in warnings)  # no personal data in logs


async def test_an_llm_error_is_logged_without_the_message_text(warnings: list[str]) -> None:
    secret = "мой телефон 89998887766"
    u = await understand(secret, llm=FakeLLM(error=RuntimeError(f"provider echoed: {secret}")))
    assert u.source == "offline" and u.slots["phone"] == "+79998887766"
    assert any("RuntimeError" in w for w in warnings)
    assert not any("89998887766" in w for w in warnings)
