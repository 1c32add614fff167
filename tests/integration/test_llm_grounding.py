"""The reply prompt and the check that an LLM answer names only prices the pricing engine gave."""

from __future__ import annotations

import jinja2
import pytest

from integrations.llm.grounding import check_grounded, money_mentions
from integrations.llm.prompts import render_prompt

ALLOWED = {150_000, 290_000, 1_500_000}


@pytest.mark.parametrize("answer", [
    "Пакет «Старт» — 150 000 ₽, «Оптимум» — 290 000 руб. Какой вариант вам ближе?",
    "Старт стоит 150 тыс. рублей, Enterprise — 1,5 млн ₽.",
    "По вашему брифу вышло 150000₽. Удобно созвониться завтра?",
    "Стоимость рассчитаем после пары вопросов. Сколько сотрудников будет работать с ботом?",
    "Проверка договора занимает 5 минут, предоплата 50%. Когда вам удобно начать?",
])
def test_answers_with_only_allowed_prices_or_none_pass(answer: str) -> None:
    assert check_grounded(answer, ALLOWED)


@pytest.mark.parametrize("answer", [
    "ИИ-Юрист стоит 99 000 ₽.",
    "Обычно от 90 до 150 тыс. ₽.",  # 90 000 is invented even if 150 000 is real
    "Со скидкой выйдет 135 000 руб.",
    "Внедрение около 200к.",
    "Это обойдётся примерно в 2 млн.",
    "Подписка $500 в месяц.",
    "Всего сто пятьдесят тысяч рублей!",
    "Предоплата 75 000 р.",
    "Старт — 150 000 ₽, поддержка 1.500,50 ₽ в месяц.",
])
def test_answers_with_invented_amounts_are_rejected(answer: str) -> None:
    assert not check_grounded(answer, ALLOWED)


def test_nothing_is_allowed_when_the_pricing_engine_gave_no_prices() -> None:
    assert not check_grounded("Пакет Старт стоит 150 000 ₽.", set())
    assert check_grounded("Точную стоимость посчитаем после брифа.", set())


def test_amounts_are_read_in_rubles() -> None:
    mentions = money_mentions("от 90 до 150 тыс. ₽, потом 1,5 млн рублей и 2 500 р.")
    assert [m.amount for m in mentions] == [90_000, 150_000, 1_500_000, 2_500]


def reply_context(**overrides: object) -> dict[str, object]:
    ctx: dict[str, object] = {
        "channel": "avito",
        "chunks": [{"title": "ИИ-Юрист", "text": "Проверяет договоры и находит риски."}, "Работает в Telegram."],
        "brief": {"Отрасль": "логистика", "Пользователей": "15"},
        "prices": [{"label": "Старт", "amount": 150000}, {"label": "Оптимум", "amount": 290000}],
        "next_question": "Какая CRM у вас сейчас?",
    }
    ctx.update(overrides)
    return ctx


def test_reply_prompt_carries_facts_prices_rules_and_the_next_question() -> None:
    prompt = render_prompt("reply", **reply_context())
    assert "Проверяет договоры и находит риски." in prompt
    assert "Отрасль: логистика" in prompt
    assert "Старт: 150 000 ₽" in prompt and "Оптимум: 290 000 ₽" in prompt
    assert "Какая CRM у вас сейчас?" in prompt
    assert "НИКОГДА не называй цену" in prompt
    assert "Никакой разметки" in prompt  # avito: plain text only
    # the prices the prompt shows are exactly what the grounding check accepts back
    assert check_grounded("Старт: 150 000 ₽, Оптимум: 290 000 ₽.", {150000, 290000})


def test_reply_prompt_without_prices_forbids_amounts_and_allows_light_formatting_off_avito() -> None:
    prompt = render_prompt("reply", **reply_context(channel="telegram", prices=[], next_question=""))
    assert "цен нет — суммы не называть" in prompt
    assert "Никакой разметки" not in prompt
    assert "без markdown" in prompt


def test_reply_prompt_refuses_to_render_without_its_facts() -> None:
    context = reply_context()
    del context["chunks"]
    with pytest.raises(jinja2.UndefinedError):
        render_prompt("reply", **context)
