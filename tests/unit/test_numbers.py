"""The Russian number, quantity and period parser (pipelines/understand/numbers.py, issue #18 point 3)."""

from __future__ import annotations

from datetime import date

import pytest

from pipelines.understand.normalize import normalize
from pipelines.understand.numbers import period_days, quantity

QUANTITIES: list[tuple[str, int | None]] = [
    # words and compounds, in every case form
    ("двадцать пять", 25),
    ("сто двадцать", 120),
    ("ста двадцати пяти", 125),
    ("двумястами", 200),
    ("сорока", 40),
    ("девятьсот девяносто девять", 999),
    ("полсотни", 50),
    ("полторы тысячи", 1500),
    ("полутора тысяч", 1500),
    ("две с половиной тысячи", 2500),
    ("трёх с половиной тысяч", 3500),
    ("тысячу", 1000),
    ("две тысячи", 2000),
    ("пара", 2),
    ("пару", 2),
    ("парочка", 2),
    ("десяток", 10),
    ("два десятка", 20),
    ("пятёрка", 5),
    ("пятерка", 5),
    ("дюжина", 12),
    ("сотня", 100),
    ("сотни", 100),
    ("пара сотен", 200),
    ("пару сотен", 200),
    ("трое", 3),
    ("пятеро", 5),
    ("двоих", 2),
    ("один", 1),
    # digits, separators and shorthand
    ("1 500", 1500),
    ("12\u00a0000", 12000),
    ("1,5к", 1500),
    ("1.5k", 1500),
    ("2 тыс.", 2000),
    ("2 тыс", 2000),
    ("3k", 3000),
    ("10+", 10),
    ("40", 40),
    # approximations, ranges and word order
    ("штук 12", 12),
    ("человек 30–40", 40),
    ("человек 8-10", 10),
    ("от 20 до 30", 30),
    ("20 или 25", 25),
    ("около сотни", 100),
    ("примерно 50", 50),
    ("до 200", 200),
    ("больше сотни", 100),
    ("человек двадцать пять, может тридцать", 30),
    ("где-то полсотни", 50),
    # not quantities
    ("150 тысяч рублей", None),
    ("150 тыс. руб", None),
    ("90 000 ₽", None),
    ("в 2026", None),
    ("в 2026 году", None),
    ("в 15:00", None),
    ("24/7", None),
    ("152-ФЗ", None),
    ("152 фз", None),
    ("1С", None),
    ("+7 912 345-67-89", None),
    ("8 (495) 123-45-67", None),
    ("привет", None),
    ("", None),
]


@pytest.mark.parametrize(("text", "value"), QUANTITIES)
def test_quantity(text: str, value: int | None) -> None:
    assert quantity(text) == value


def test_the_table_is_large_enough() -> None:
    assert len(QUANTITIES) >= 60


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("полторы тысячи сотрудников", "1500 сотрудников"),
        ("на 1,5к пользователей", "на 1500 пользователей"),
        ("2 тыс. пользователей", "2000 пользователей"),
        ("пару сотен человек", "200 человек"),
        ("человек 30–40", "человек 40"),
        ("штук 12 систем", "штук 12 систем"),
        ("150 тысяч рублей", "150000 рублей"),
        ("битрикс24 и 1с", "битрикс и 1с"),
    ],
)
def test_normalize_writes_each_quantity_as_one_integer(text: str, normalised: str) -> None:
    assert normalize(text) == normalised


TODAY = date(2026, 3, 2)  # a Monday


@pytest.mark.parametrize(
    ("text", "days"),
    [
        ("через полгода", 180),
        ("через 2 недели", 14),
        ("за месяц", 30),
        ("за 10 дней", 10),
        ("1.5 месяц", 45),
        ("неделя", 7),
        ("к пятнице", 4),
        ("до 15 марта", 13),
        ("к 15.03", 13),
        ("к концу месяца", 29),
        ("к концу недели", 6),
        ("к концу квартала", 29),
        ("к новому году", 304),
        ("до конца апреля", 59),
        ("5 дней назад", None),
        ("раз в неделю", None),
        ("привет", None),
    ],
)
def test_period_days(text: str, days: float | None) -> None:
    assert period_days(normalize(text), TODAY) == days


def test_a_date_already_past_this_year_is_next_year() -> None:
    assert period_days(normalize("до 1 марта"), TODAY) == 364


@pytest.mark.parametrize(
    ("text", "expecting", "slot", "value"),
    [
        ("стоимость для полторы тысячи сотрудников какая будет?", None, "users", 1500),
        ("а на 1,5к пользователей сколько выйдет", None, "users", 1500),
        ("человек 30–40 будут работать", "users", "users", 40),
        ("около сотни менеджеров", None, "users", 100),
        ("менеджеров 10, но пользоваться будут только 4", None, "users", 4),
        ("8 управляющих и я", "users", "users", 9),
        ("систем штук 12, все надо подружить с аналитиком", None, "integrations", 12),
        ("пара интеграций", "integrations", "integrations", 2),
        ("десяток систем", None, "integrations", 10),
        ("амо и телеграм", "integrations", "integrations", 1),
        ("к концу квартала надо запуститься", "deadline", "deadline", "lt1w"),
        ("через полгода", "deadline", "deadline", "standard"),
        ("вчера было надо", None, "deadline", "lt1w"),
    ],
)
def test_slots_read_the_numbers(text: str, expecting: str | None, slot: str, value: object) -> None:
    from pipelines.understand.offline import understand_offline

    assert understand_offline(text, expecting=expecting, today=date(2026, 3, 27)).slots.get(slot) == value


@pytest.mark.parametrize(
    "text",
    ["бюджет 150 тысяч рублей", "запуск в 2026", "созвон в 15:00", "поддержка 24/7", "соблюдаете 152-ФЗ?",
     "у нас 1С", "звоните +7 912 345-67-89"],
)
def test_numbers_that_are_not_head_counts(text: str) -> None:
    from pipelines.understand.offline import understand_offline

    assert "users" not in understand_offline(text, expecting="users").slots
    assert understand_offline(text).slots.get("integrations") in (None, 1)  # «1С» is one system, never 1 + 1
