"""Amounts in words and digits as they appear on an invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pipelines.document.money import amount_in_words, format_amount, format_rub


@pytest.mark.parametrize(("amount", "words"), [
    ("1", "Один рубль 00 копеек"),
    ("2", "Два рубля 00 копеек"),
    ("5", "Пять рублей 00 копеек"),
    ("11", "Одиннадцать рублей 00 копеек"),
    ("21", "Двадцать один рубль 00 копеек"),
    ("101", "Сто один рубль 00 копеек"),
    ("1000", "Одна тысяча рублей 00 копеек"),
    ("2000", "Две тысячи рублей 00 копеек"),
    ("150000", "Сто пятьдесят тысяч рублей 00 копеек"),
    ("180000", "Сто восемьдесят тысяч рублей 00 копеек"),
    ("2000000", "Два миллиона рублей 00 копеек"),
    ("2.50", "Два рубля 50 копеек"),
    ("0.01", "Ноль рублей 01 копейка"),
    ("12.34", "Двенадцать рублей 34 копейки"),
    ("7.11", "Семь рублей 11 копеек"),
    ("1.21", "Один рубль 21 копейка"),
    ("1027000", "Один миллион двадцать семь тысяч рублей 00 копеек"),
])
def test_amount_in_words(amount: str, words: str) -> None:
    assert amount_in_words(Decimal(amount)) == words


def test_int_amount_is_roubles_not_kopecks() -> None:
    # num2words reads a bare int as kopecks; we must not
    assert amount_in_words(21) == "Двадцать один рубль 00 копеек"  # type: ignore[arg-type]


def test_amount_is_rounded_to_kopecks() -> None:
    assert amount_in_words(Decimal("10.005")) == "Десять рублей 01 копейка"


def test_negative_amount_refused() -> None:
    with pytest.raises(ValueError):
        amount_in_words(Decimal("-1"))


def test_amount_in_digits() -> None:
    assert format_amount(Decimal("180000")) == "180 000"
    assert format_amount(Decimal("180000"), kopecks=True) == "180 000,00"
    assert format_amount(Decimal("1234567.8")) == "1 234 567,80"
    assert format_rub(Decimal("2000000")) == "2 000 000 ₽"
