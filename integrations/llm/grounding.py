"""Does an LLM answer mention only the money amounts the pricing engine gave it?

``check_grounded(answer, allowed_prices)`` is False when the answer names any money amount (₽, руб, р., тыс, k/к,
млн, т.р., $, €, …, also ranges such as «от 90 до 150 тыс. ₽» and amounts in words such as «сто тысяч рублей»)
that is not one of ``allowed_prices`` (whole rubles). The caller then sends the offline answer instead.
It errs on the side of rejecting: a false alarm costs a template answer, an invented price costs trust.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

_SP = "[ \u00a0\u202f]"
_WS = r"[\s\u00a0\u202f]*"
# 150 000 | 150.000 | 150,000 | 150000, then an optional decimal part (1,5 / 2.75)
_NUM = (
    rf"(?<![\w.,])(?P<int>\d{{1,3}}(?:{_SP}\d{{3}})+(?!\d)|\d{{1,3}}(?:\.\d{{3}})+(?![\d.])"
    r"|\d{1,3}(?:,\d{3})+(?![\d,])|\d+)(?:[.,](?P<frac>\d+))?"
)
_MULT = (
    r"(?P<mult>тыс(?:яч[а-яё]*|\.)?|млн\.?|миллион[а-яё]*|млрд\.?|миллиард[а-яё]*"
    r"|т\.?\s?р\.?(?![а-яё])|k(?![a-zа-яё])|к(?![a-zа-яё]))"
)
_CUR = (
    r"(?P<cur>₽|руб(?:л[а-яё]*|\.)?|р\.(?![а-яё])|р(?![а-яё\d])|rub\b|rur\b|\$|usd\b|долл[а-яё]*\.?"
    r"|€|eur\b|евро)"
)
_AMOUNT = re.compile(
    rf"(?P<pre>[$€₽]{_WS})?{_NUM}(?:(?P<multsp>{_WS}){_MULT})?(?:{_WS}{_CUR})?",
    re.IGNORECASE,
)
_RANGE_GAP = re.compile(rf"^{_WS}(?:[-–—]|до|to){_WS}$", re.IGNORECASE)

_NUMERAL = (
    r"(?:од(?:ин|на|ну|ного|ной|ним)|дв(?:а|е|ух|ум|умя|ести|ухсот)|тр(?:и|[её]х|[её]м|иста|[её]хсот)"
    r"|четыр(?:е|[её]х|ьмя|еста|[её]хсот)|пят[ьи]\w*|шест[ьи]\w*|сем[ьи]\w*|восем[ьи]\w*|восьм\w*"
    r"|девят[ьи]\w*|десят[ьи]\w*|\w+надцат[ьи]\w*|двадцат\w*|тридцат\w*|сорок\w*|\w+десят\w*|девяност\w*"
    r"|сто|ста|сот\w*|тысяч\w*|миллион\w*|миллиард\w*|полтор\w*|несколько|пару)"
)
_WORD_AMOUNT = re.compile(
    rf"(?<![\w])(?:{_NUMERAL}{_WS})+(?:₽|руб|долл|евро|\$|€)",
    re.IGNORECASE,
)

# a safety net: digits close before a currency sign, however they are written
_LOOSE = re.compile(
    r"\d[\d\s\u00a0\u202f.,'’]*(?:[a-zа-яё.]{1,9}\s*)?(?P<sign>₽|руб|р\.|\$|€|евро|долл)",
    re.IGNORECASE,
)

_MULTIPLIERS = (
    ("млрд", 1_000_000_000), ("миллиард", 1_000_000_000),
    ("млн", 1_000_000), ("миллион", 1_000_000),
    ("тыс", 1000), ("т", 1000), ("k", 1000), ("к", 1000),
)


@dataclass(frozen=True)
class MoneyMention:
    text: str
    amount: int | None  # None: written in a way we cannot read (in words, odd separators)


@dataclass(frozen=True)
class _Token:
    start: int
    end: int
    value: Decimal
    multiplier: int
    marked: bool  # has a multiplier or a currency of its own


def _multiplier(word: str) -> int:
    lowered = word.lower()
    for prefix, factor in _MULTIPLIERS:
        if lowered.startswith(prefix):
            return factor
    return 1


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    for m in _AMOUNT.finditer(text):
        digits = re.sub(r"[^\d]", "", m.group("int"))
        value = Decimal(digits)
        if m.group("frac"):
            value += Decimal(f"0.{m.group('frac')}")
        mult_word, cur, pre = m.group("mult"), m.group("cur"), m.group("pre")
        if mult_word and mult_word.lower() in ("k", "к") and m.group("multsp") and not cur:
            # «150 к оплате»: a detached «к» is a preposition unless a currency follows
            mult_word = None
        multiplier = _multiplier(mult_word) if mult_word else 1
        marked = bool(mult_word or cur or pre)
        tokens.append(_Token(m.start(), m.end(), value, multiplier, marked))
    return tokens


def money_mentions(text: str) -> list[MoneyMention]:
    """Every money amount in ``text``, in rubles (or the foreign unit as written), in order."""
    tokens = _tokens(text)
    found: list[tuple[int, MoneyMention]] = []
    for i, token in enumerate(tokens):
        multiplier = token.multiplier
        if not token.marked:
            following = tokens[i + 1] if i + 1 < len(tokens) else None
            if following is None or not following.marked or not _RANGE_GAP.match(
                text[token.end:following.start]
            ):
                continue
            multiplier = following.multiplier  # «от 90 до 150 тыс. ₽», «90–150 тыс»
        amount = int((token.value * multiplier).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        found.append((token.start, MoneyMention(text[token.start:token.end].strip(), amount)))
    covered = [(t.start, t.end) for t in tokens if t.marked]

    def read(position: int) -> bool:
        return any(start <= position < end for start, end in covered)

    for m in _WORD_AMOUNT.finditer(text):
        if not read(m.end() - 1):
            found.append((m.start(), MoneyMention(m.group(0).strip(), None)))
    for m in _LOOSE.finditer(text):
        if not read(m.start("sign")):
            found.append((m.start(), MoneyMention(m.group(0).strip(), None)))
    return [mention for _, mention in sorted(found, key=lambda item: item[0])]


def ungrounded_amounts(answer: str, allowed_prices: set[int]) -> list[MoneyMention]:
    """The money mentions of ``answer`` that are not in ``allowed_prices`` (amounts in words always are)."""
    return [m for m in money_mentions(answer) if m.amount is None or m.amount not in allowed_prices]


def check_grounded(answer: str, allowed_prices: set[int]) -> bool:
    """True when every money amount in ``answer`` is one of ``allowed_prices`` (an answer without any is fine)."""
    return not ungrounded_amounts(answer, allowed_prices)
