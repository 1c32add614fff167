"""Russian numbers, quantities and periods as clients write them, for slot extraction.

Three layers, each usable alone:

- ``words_to_digits`` turns runs of number words (in any case form, via pymorphy3) into digits: «двадцать пять» 25,
  «ста двадцати» 120, «полсотни» 50, «пару сотен» 200, «десяток» 10, «пятёрка» 5, «дюжина» 12;
- ``expand_quantities`` and ``collapse_ranges`` rewrite a lower-case text so that every quantity is one integer:
  «1 500» 1500, «1,5к» 1500, «2 тыс.» 2000, «1.5 тыс» (what «полторы тысячи» becomes) 1500, «2 с половиной тыс» 2500,
  «10+» 10, «30–40» / «от 20 до 30» / «25, может 30» → the upper bound;
- ``period_days`` reads a deadline as days from ``today``: «через две недели» 14, «через полгода» 180, «за месяц» 30,
  «к пятнице», «до 15 марта», «15.03», «к концу недели / месяца / квартала / марта», «к новому году».

``quantity`` applies the first two to a short phrase and returns the number it names (None for a phone, a price, a
year, a time, «24/7», «152-ФЗ» or «1С»).
"""

from __future__ import annotations

import calendar
import contextlib
import re
from datetime import date
from functools import lru_cache

from pipelines.understand.morphology import lemma, parse

# ---------------------------------------------------------------- number words

_UNITS: dict[str, int] = {
    "ноль": 0, "один": 1, "одна": 1, "одно": 1, "одного": 1, "одну": 1, "одной": 1, "одному": 1,
    "два": 2, "две": 2, "двух": 2, "двум": 2, "двумя": 2, "три": 3, "трех": 3, "трем": 3, "тремя": 3,
    "четыре": 4, "четырех": 4, "пять": 5, "шесть": 6, "семь": 7, "восемь": 8, "девять": 9,
    "десять": 10, "одиннадцать": 11, "двенадцать": 12, "тринадцать": 13, "четырнадцать": 14, "пятнадцать": 15,
    "шестнадцать": 16, "семнадцать": 17, "восемнадцать": 18, "девятнадцать": 19,
    "двое": 2, "трое": 3, "четверо": 4, "пятеро": 5, "шестеро": 6, "семеро": 7, "восьмеро": 8, "девятеро": 9,
    "десятеро": 10, "обоих": 2, "оба": 2, "обе": 2, "двоих": 2, "троих": 3, "четверых": 4, "пятерых": 5,
}
_TENS: dict[str, int] = {
    "двадцать": 20, "тридцать": 30, "сорок": 40, "сорока": 40, "пятьдесят": 50, "шестьдесят": 60,
    "семьдесят": 70, "восемьдесят": 80, "девяносто": 90,
}
_HUNDREDS: dict[str, int] = {
    "сто": 100, "ста": 100, "двести": 200, "триста": 300, "четыреста": 400, "пятьсот": 500, "шестьсот": 600,
    "семьсот": 700, "восемьсот": 800, "девятьсот": 900,
}
# Standalone quantity nouns (by normal form), and the nouns among them that multiply the count before them.
_QUANT: dict[str, float] = {
    "пара": 2, "парочка": 2, "полсотня": 50, "полсотни": 50, "полтинник": 50, "дюжина": 12, "десяток": 10,
    "сотня": 100, "полтора": 1.5, "полторы": 1.5, "полтораста": 150, "тысяча": 1000, "пятерка": 5,
    "четверка": 4, "тройка": 3, "шестерка": 6, "семерка": 7, "десятка": 10, "сотка": 100,
}
_MULT: dict[str, int] = {"десяток": 10, "сотня": 100, "тысяча": 1000}
_CYR_RE = re.compile(r"^[а-яё]+$")


@lru_cache(maxsize=4096)
def number_value(word: str) -> tuple[str, float] | None:
    """(kind, value) of a number word, kind in unit/ten/hundred/quant, in any case form; else None."""
    word = word.replace("ё", "е")
    if word in _UNITS:
        return ("unit", _UNITS[word])
    if word in _TENS:
        return ("ten", _TENS[word])
    if word in _HUNDREDS:
        return ("hundred", _HUNDREDS[word])
    if word in _QUANT:
        return ("quant", _QUANT[word])
    if not _CYR_RE.match(word) or len(word) < 3:
        return None
    p = parse(word)
    nf = str(p.normal_form).replace("ё", "е")
    if "NUMR" in p.tag or nf in _QUANT:
        for table, kind in ((_UNITS, "unit"), (_TENS, "ten"), (_HUNDREDS, "hundred")):
            if nf in table:
                return (kind, table[nf])
        if nf in _QUANT:
            return ("quant", _QUANT[nf])
    return None


def keeps_multiplier(words: list[str], i: int, j: int) -> bool:
    """A lone «тысяч» / «сотни» / «десятка» after a digit («150 тысяч», «2 с половиной тысячи») stays a word:
    ``expand_quantities`` multiplies the number before it."""
    if j - i != 1 or i == 0 or lemma(words[i].replace("ё", "е")) not in _MULT:
        return False
    return words[i - 1].isdigit() or words[i - 1] in {"половиной", "лишним", "небольшим"}


def _fmt(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def words_to_digits(tokens: list[str]) -> list[str]:
    """Replace runs of number words with digits: «сто пятьдесят» → «150», «пару десятков» → «20»."""
    out: list[str] = []
    i = 0
    n = len(tokens)
    while i < n:
        if number_value(tokens[i]) is None:
            out.append(tokens[i])
            i += 1
            continue
        total = 0.0
        last_kind = ""
        j = i
        while j < n:
            kv = number_value(tokens[j])
            if kv is None:
                break
            kind, val = kv
            nf = lemma(tokens[j].replace("ё", "е"))
            if kind == "quant" and nf in _MULT and j > i:
                total = (total or 1) * _MULT[nf]
                last_kind = "mult"
                j += 1
                continue
            if kind == "quant":
                if j > i:
                    break
                total = val
                last_kind = "quant"
                j += 1
                continue
            order = {"hundred": 3, "ten": 2, "unit": 1}[kind]
            prev = {"hundred": 3, "ten": 2, "unit": 1, "quant": 9, "mult": 9, "": 9}[last_kind]
            if order >= prev or (last_kind == "ten" and val >= 10):
                break
            total += val
            last_kind = kind
            j += 1
        out.append(_fmt(total))
        i = j
    return out


# ---------------------------------------------------------------- digits, shorthand, ranges

# «1 500», «12 000»: a thousands separator (a space or a no-break space) between digit groups
_GROUPED_RE = re.compile(r"(?<![\d.,:/+-])(\d{1,3})(?:[ \u00a0\u202f](\d{3}))+(?![\d.,:/]|\s*-?\s*фз)")
_HALF_RE = re.compile(r"(?<![\d.,])(\d+)\s+с\s+половиной\s+(тыс\w*|тысяч\w*|тыщ\w*|сот(?:ни|ен|ня)|десят\w*)")
_THOUSANDS_RE = re.compile(
    r"(?<![\d.,:/])(\d+(?:[.,]\d+)?)(?:\s*(?:тыс\b\.?|тысяч\w*|тыщ\w*)|(?:к|k)\b)"
)
_MILLIONS_RE = re.compile(r"(?<![\d.,:/])(\d+(?:[.,]\d+)?)\s*(?:млн\b\.?|миллион\w*)")
_HUNDREDS_RE = re.compile(r"(?<![\d.,:/])(\d+)\s+сот(?:ни|ен)\b")
_PLUS_RE = re.compile(r"(?<![\d.,:/])(\d+)\s*\+(?!\s*\d)")
_MULTIPLIERS = {"тыс": 1000, "тыщ": 1000, "сот": 100, "дес": 10}


def _as_int(value: float) -> str:
    return str(round(value))


def expand_quantities(text: str) -> str:
    """Rewrite every written quantity of a lower-case text as one integer (see the module's docstring)."""
    t = _GROUPED_RE.sub(lambda m: m.group(0).replace(" ", "").replace("\u00a0", "").replace("\u202f", ""), text)
    t = _HALF_RE.sub(lambda m: _as_int((int(m.group(1)) + 0.5) * _MULTIPLIERS[m.group(2)[:3]]), t)
    t = _MILLIONS_RE.sub(lambda m: _as_int(float(m.group(1).replace(",", ".")) * 1_000_000), t)
    t = _THOUSANDS_RE.sub(lambda m: _as_int(float(m.group(1).replace(",", ".")) * 1000), t)
    t = _HUNDREDS_RE.sub(lambda m: _as_int(int(m.group(1)) * 100), t)
    return _PLUS_RE.sub(r"\1", t)


_RANGE_RE = re.compile(r"\b(?:от\s+)?(\d+)\s*(?:-|–|—|до|или)\s*(\d+)\b(?![.,:]\d)")
# «двадцать пять, может тридцать», «20, максимум 25»: the second, larger number is the bound
_MAYBE_RE = re.compile(
    r"\b(\d+)(?:\s+с (?:небольшим|лишним))?\s*,?\s+(?:может|может быть|максимум|а то и|или даже|пусть)\s+(\d+)\b"
    r"(?![.,:]\d)"
)


def collapse_ranges(text: str) -> str:
    """«от 30 до 50» / «15-20» / «20 или 25» / «25, может 30» → the upper bound."""

    def repl(m: re.Match[str]) -> str:
        a, b = int(m.group(1)), int(m.group(2))
        return str(b) if b > a else m.group(0)

    return _MAYBE_RE.sub(repl, _RANGE_RE.sub(repl, text))


_TOKEN_RE = re.compile(r"[a-zа-яё0-9]+", re.IGNORECASE)
# Numbers that are not quantities: a time, a year, a law, a product name, 24/7, a phone-like run of digits
_NOT_QUANTITY = re.compile(
    r"\d{1,2}:\d{2}|\b(?:в|к|до|с)\s+(?:19|20)\d{2}\b|\b(?:19|20)\d{2}\s*(?:г\b|год\w*)|\d+\s*-?\s*фз\b|\b1\s?[сc]\b"
    r"|\b24\s*/\s*7\b|\+?\d[\d\s()-]{8,}\d"
)
_MONEY_RE = re.compile(r"\d\s*(?:(?:тыс\w*|тыщ\w*|млн|миллион\w*|k|к)\.?\s*)?(?:₽|руб\w*|р\b|\$|€|usd|eur)")
_INT_RE = re.compile(r"(?<![\d.,:/])\d+(?![.,:/]\d)")


def _digits(text: str) -> str:
    low = text.lower().replace("ё", "е")
    pieces: list[str] = []
    pos = 0
    spans = [(m.start(), m.end()) for m in _TOKEN_RE.finditer(low)]
    words = [low[s:e] for s, e in spans]
    i = 0
    while i < len(words):
        if number_value(words[i]) is None:
            i += 1
            continue
        j = i + 1
        while j < len(words) and number_value(words[j]) is not None and low[spans[j - 1][1]:spans[j][0]].strip() == "":
            j += 1
        if keeps_multiplier(words, i, j):
            i = j
            continue
        merged = " ".join(words_to_digits(words[i:j]))
        pieces.append(low[pos:spans[i][0]])
        pieces.append(merged)
        pos = spans[j - 1][1]
        i = j
    pieces.append(low[pos:])
    return "".join(pieces)


def quantity(text: str) -> int | None:
    """The quantity a short phrase names («полторы тысячи» 1500, «человек 30–40» 40); None when it names none."""
    t = _digits(text)
    if _NOT_QUANTITY.search(t) or _MONEY_RE.search(t):
        return None
    t = collapse_ranges(expand_quantities(t))
    found = [int(x) for x in _INT_RE.findall(t)]
    return max(found) if found else None


# ---------------------------------------------------------------- periods and dates

_PERIOD_EXCLUDE = r"(?<!\bв )(?<!\bраз в )"
_DAYS = re.compile(
    rf"{_PERIOD_EXCLUDE}(?<![\d.,])(\d+(?:[.,]5)?)\s*(?:рабочих\s+|календарных\s+)?(?:дн\w*|день|суток|сутки)\b"
    r"(?!\s+назад)"
)
_DAYS_B = re.compile(r"\b(?:дн(?:ей|я)|суток)\s+(?:(?:за|через|около|примерно|максимум)\s+)?(\d+)\b")
_WEEKS = re.compile(r"(?<![\d.,])(\d+(?:[.,]5)?)\s*недел\w*(?!\s+назад)")
_WEEKS_B = re.compile(r"\bнедел(?:и|ь)\s+(?:(?:за|через|около|примерно|максимум)\s+)?(\d+(?:[.,]5)?)\b")
_MONTHS_B = re.compile(r"\bмесяц(?:а|ев)\s+(?:(?:за|через|около|примерно|максимум)\s+)?(\d+(?:[.,]5)?)\b")
_WEEK1 = re.compile(r"(?<!\bв )(?<!\d )(?<!кажд\w\w )\bнедел(?:я|ю|и|е|ьку|ька)\b(?!\s+назад)")
_MONTHS = re.compile(r"(?<![\d.,])(\d+(?:[.,]5)?)\s*месяц\w*(?!\s+назад)")
_MONTH1 = re.compile(
    r"(?<!\bв )(?<!\d )(?<!прошлый )(?<!прошлого )(?<!прошлом )(?<!первого )(?<!первый )"
    r"(?<!стоит )(?<!стоить )(?<!стоят )(?<!цена )(?<!оплата )(?<!оплатить )(?<!подписка )"
    r"\bмесяц\w*\b(?!\s+назад)(?!\s+(?:работы\s+|подписки\s+|использования\s+|доступа\s+(?:к\s+)?)?"
    r"(?:ии\s+)?(?:юрист|аналитик|менеджер|бот|подписк|сервис|доступ|обслуживан|поддержк)\w*)|\bквартал\w*")
_WEEKDAYS: dict[str, int] = {
    "понедельник": 0, "вторник": 1, "сред": 2, "четверг": 3, "пятниц": 4, "суббот": 5, "воскресень": 6,
}
_WEEKDAY_RE = re.compile(r"\b(?:к|до|в|на)\s+(понедельник|вторник|сред|четверг|пятниц|суббот|воскресень)\w*")
_MONTHS_GEN: dict[str, int] = {
    "январ": 1, "феврал": 2, "март": 3, "апрел": 4, "ма": 5, "июн": 6, "июл": 7, "август": 8, "сентябр": 9,
    "октябр": 10, "ноябр": 11, "декабр": 12,
}
_DATE_RE = re.compile(
    r"\b(?:к|до|на|не позже|не позднее|дедлайн\w*|deadline|срок\w*|крайний срок|запуск\w*|старт\w*|сдача)"
    r"\s*[:—–-]?\s+(\d{1,2})\s*(?:-?го\s+)?"
    r"(январ|феврал|март|апрел|ма|июн|июл|август|сентябр|октябр|ноябр|декабр)[а-я]*\b"
)
_DOTTED_DATE_RE = re.compile(
    r"\b(?:к|до|на|дедлайн\w*|срок\w*|крайний срок)\s*[:—–-]?\s+(\d{1,2})[./](\d{1,2})(?:[./](\d{2,4}))?\b"
)
_END_OF_RE = re.compile(
    r"\b(?:к|до)\s+конц\w*\s+(недели|месяца|"
    r"январ\w*|феврал\w*|март\w*|апрел\w*|ма[яй]\w*|июн\w*|июл\w*|август\w*|сентябр\w*|октябр\w*|ноябр\w*|декабр\w*)"
)


_HALF_YEAR_RE = re.compile(r"(?:(\d+)\s+)?\bполгода\b(?!\s+назад)")
_END_OF_QUARTER_RE = re.compile(r"\b(?:к|до)\s+конц\w*\s+(?:этого\s+|текущего\s+)?квартал\w*")
_DAY_OF_MONTH_RE = re.compile(r"\b(?:к|до|на)\s+(\d{1,2})\s*(?:-?(?:му|го|е)\s+)?числ\w*")
_MID_MONTH_RE = re.compile(
    r"\b(?:к|до|в)\s+середин\w*\s+(январ\w*|феврал\w*|март\w*|апрел\w*|ма[яй]\w*|июн\w*|июл\w*|август\w*"
    r"|сентябр\w*|октябр\w*|ноябр\w*|декабр\w*)"
)
_TOMORROW_RE = re.compile(r"\b(?:к|до|на)\s+(?:завтрашн\w*|завтра|послезавтра)\b|\bк\s+утру\b")
_NEW_YEAR_RE = re.compile(r"\b(?:к|до|перед)\s+(?:самым\s+)?нов(?:ому|ого|ым)\s+год\w*")


def _num(s: str) -> float:
    return float(s.replace(",", "."))


def _month_index(word: str) -> int | None:
    for stem, idx in sorted(_MONTHS_GEN.items(), key=lambda kv: -len(kv[0])):
        if word.startswith(stem):
            return idx
    return None


def _next_date(today: date, month: int, day: int) -> date | None:
    for year in (today.year, today.year + 1):
        try:
            d = date(year, month, day)
        except ValueError:
            return None
        if d >= today:
            return d
    return None


def period_days(t: str, today: date) -> float | None:
    """Days until the wanted launch, from a normalised text (numbers as digits); None when it names no period or date.

    The nearest of the periods and dates named wins. Dates are counted from ``today`` (the next such date).
    """
    days: list[float] = []
    for m in _DAYS.finditer(t):
        days.append(_num(m.group(1)))
    for m in _DAYS_B.finditer(t):
        days.append(float(m.group(1)))
    for m in _WEEKS.finditer(t):
        days.append(_num(m.group(1)) * 7)
    for m in _WEEKS_B.finditer(t):
        days.append(_num(m.group(1)) * 7)
    if not days and _WEEK1.search(t):
        days.append(7)
    for m in _MONTHS.finditer(t):
        days.append(_num(m.group(1)) * 30)
    for m in _MONTHS_B.finditer(t):
        days.append(_num(m.group(1)) * 30)
    for m in _HALF_YEAR_RE.finditer(t):
        days.append(180 * (_num(m.group(1)) if m.group(1) else 1))
    if not days and _MONTH1.search(t) and not _END_OF_QUARTER_RE.search(t):
        days.append(30)
    if _END_OF_QUARTER_RE.search(t):
        last_month = (today.month - 1) // 3 * 3 + 3
        days.append((date(today.year, last_month, calendar.monthrange(today.year, last_month)[1]) - today).days)
    for m in _DAY_OF_MONTH_RE.finditer(t):
        day = int(m.group(1))
        if 1 <= day <= 31:
            m_no, year = (today.month, today.year) if day >= today.day else (today.month % 12 + 1,
                                                                            today.year + (today.month == 12))
            with contextlib.suppress(ValueError):  # «к 31 числу» in a 30-day month
                days.append((date(year, m_no, day) - today).days)
    for m in _MID_MONTH_RE.finditer(t):
        month = _month_index(m.group(1))
        if month:
            d = _next_date(today, month, 15)
            if d:
                days.append((d - today).days)
    if _TOMORROW_RE.search(t):
        days.append(1)
    if _NEW_YEAR_RE.search(t):
        days.append((date(today.year, 12, 31) - today).days or 365)
    wmatch = _WEEKDAY_RE.search(t)
    if wmatch:
        wd = _WEEKDAYS[wmatch.group(1)]
        delta = (wd - today.weekday()) % 7 or 7
        days.append(delta)
    for m in _DATE_RE.finditer(t):
        month = _month_index(m.group(2))
        if month:
            d = _next_date(today, month, int(m.group(1)))
            if d:
                days.append((d - today).days)
    for m in _DOTTED_DATE_RE.finditer(t):
        day, month = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12:
            d = _next_date(today, month, day)
            if d:
                days.append((d - today).days)
    end = _END_OF_RE.search(t)
    if end:
        what = end.group(1)
        if what.startswith("недел"):
            days.append(6 - today.weekday() or 7)
        else:
            month = today.month if what.startswith("месяц") else _month_index(what)
            if month:
                last = calendar.monthrange(today.year, month)[1]
                d = _next_date(today, month, last)
                if d:
                    days.append((d - today).days)
    days = [d for d in days if d > 0]
    return min(days) if days else None


