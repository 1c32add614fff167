"""Dialog helpers: knowledge answers, manager hours, handoff summary."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from pipelines.dialog.handoff import build_summary
from pipelines.dialog.hours import is_working_time, manager_eta, parse_hours
from pipelines.dialog.knowledge import compose_answer
from pipelines.dialog.state import DialogState
from pipelines.dialog.types import Knowledge
from voronka.vocabulary import Package

MSK = ZoneInfo("Europe/Moscow")


def chunk(text: str) -> Knowledge:
    return Knowledge(title="t", text=text, source="kb.md", doc_type="faq")


def test_answer_is_clean_prose_in_whole_sentences() -> None:
    text = ("# Безопасность\n\n**Где хранятся данные?** Данные хранятся в облаке в РФ. Доступ к ним есть только у "
            "вашей команды.\n\n* Соответствие `152-ФЗ`\n"
            "* [Политика](https://example.ru/policy) опубликована на сайте\n")
    answer = compose_answer([chunk(text)])
    assert answer.startswith("Где хранятся данные? Данные хранятся в облаке в РФ.")
    assert "Соответствие 152-ФЗ." in answer and "Политика опубликована на сайте." in answer
    for debris in ("#", "*", "`", "](", "http"):
        assert debris not in answer


def test_answer_never_carries_a_price() -> None:
    answer = compose_answer([chunk("Внедрение занимает от двух недель. Стоимость от 90 000 ₽ за пакет. "
                                   "Цена от 120 тыс. руб. Поддержка входит в пакет.")])
    assert answer == "Внедрение занимает от двух недель. Поддержка входит в пакет."


def test_answer_is_at_most_500_characters_and_ends_on_a_sentence() -> None:
    sentence = "Ассистент отвечает клиентам круглосуточно и передаёт сложные вопросы менеджеру."
    answer = compose_answer([chunk(" ".join([sentence] * 20))])
    assert answer == sentence  # duplicates dropped
    many = " ".join(f"Предложение номер {i} рассказывает о возможностях продукта подробно." for i in range(30))
    answer = compose_answer([chunk(many)])
    assert 0 < len(answer) <= 500
    assert answer.endswith(".")


def test_answer_uses_the_best_two_chunks_only() -> None:
    answer = compose_answer([chunk("Первый факт."), chunk("Второй факт."), chunk("Третий факт.")])
    assert answer == "Первый факт. Второй факт."
    assert compose_answer([]) == ""
    assert compose_answer([chunk("## Только заголовок")]) == ""


@pytest.mark.parametrize(("now", "working"), [
    (datetime(2026, 11, 24, 10, 0, tzinfo=MSK), True),
    (datetime(2026, 11, 24, 18, 59, tzinfo=MSK), True),
    (datetime(2026, 11, 24, 19, 0, tzinfo=MSK), False),
    (datetime(2026, 11, 28, 12, 0, tzinfo=MSK), False),  # Saturday
])
def test_working_time(now: datetime, working: bool) -> None:
    assert is_working_time(now, "10:00-19:00") is working


def test_custom_working_hours_are_named_in_the_eta() -> None:
    assert "завтра с 09:30" in manager_eta(datetime(2026, 11, 24, 21, 0, tzinfo=MSK), "09:30-18:00")


@pytest.mark.parametrize("bad", ["", "10:00", "19:00-10:00", "25:00-26:00", "ten to seven"])
def test_bad_working_hours_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_hours(bad)


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        manager_eta(datetime(2026, 11, 24, 12, 0), "10:00-19:00")


def test_summary_names_everything_a_manager_needs() -> None:
    summary = build_summary(
        reason="negative_emotion", channel="avito",
        brief={"product": "ai_manager", "users": 12, "hosting": "hybrid", "name": "Ольга", "email": "o@x.ru",
               "industry": "ритейл"},
        state=DialogState(quoted_prices={"start": 135000, "optimum": 351000, "enterprise": 1053000},
                          package=Package.OPTIMUM),
        history=[{"role": "assistant", "text": "Какой уровень поддержки нужен?"},
                 {"role": "client", "text": "да сколько можно спрашивать"}],
        last_text="да сколько можно спрашивать")
    for part in ("недоволен", "Авито", "Ольга", "o@x.ru", "ИИ-Менеджер", "12 пользователей", "гибридное",
                 "ритейл", "351\u00a0000\u00a0₽", "Оптимум", "Ассистент: Какой уровень"):
        assert part in summary, part
    assert summary.count("да сколько можно спрашивать") == 1
