"""Brief slots: the question order, value checks, echoes and the dialog's own small text fallbacks.

The NLU (``pipelines.understand``) extracts slots; these helpers only cover what it cannot know: the answer to
the question just asked when it is free text («стоматология» for the industry), a bare number, «не знаю»,
«дальше», a package name, a numbered product choice on Avito.
"""

from __future__ import annotations

import re
from typing import Any

from pipelines.russian import plural
from voronka.vocabulary import OPTION_KEYS, PRICING_SLOTS, PRODUCT_INFO, PRODUCTS, Package, Product

from . import texts
from .state import DocKind

CONTACT_SLOTS: tuple[str, ...] = ("name", "phone", "email")
SOFT_SLOTS: tuple[str, ...] = ("industry", "goals", "security")

# The brief questions in order. Pricing slots are asked until known; "industry", "goals" and "contacts" once.
# "security" has no question of its own: the hosting question covers it (and is skipped when hosting is known).
BRIEF_STEPS: tuple[str, ...] = ("industry", "users", "goals", "integrations", "hosting", "sla", "deadline",
                                "contacts")
SOFT_STEPS: frozenset[str] = frozenset({"industry", "goals", "contacts"})

MAX_USERS = 1_000_000
MAX_INTEGRATIONS = 1000
MAX_FREE_TEXT = 200

# When the client does not know, a closed question takes its cheapest, most common value.
DONT_KNOW_DEFAULTS: dict[str, Any] = {"integrations": 0, "hosting": "cloud", "sla": "standard",
                                      "deadline": "standard"}

_DONT_KNOW = re.compile(
    r"\b(не знаю|не уверен\w*|хз|без разницы|не важно|неважно|всё равно|все равно|любой|любая|любое|"
    r"на ваше усмотрение|посоветуйте|как лучше|как обычно|затрудняюсь)\b", re.IGNORECASE)
_SKIP = re.compile(
    r"^\s*(дальше|далее|пропуст\w*|потом|позже|не сейчас|не хочу|не буду|нет|не надо|без контактов|"
    r"покажите( цены)?|сначала цен\w*|skip)\s*[.!]*\s*$", re.IGNORECASE)
_ACK = re.compile(
    r"^\s*(ок|окей|ok|okay|ясно|понятно|понял\w*|спасибо|благодарю|хорошо|ага|угу|принято|отлично|супер|"
    r"класс|да|понятненько)\s*[.!)]*\s*$", re.IGNORECASE)
_BARE_INT = re.compile(r"^\s*~?\s*(\d{1,7})\s*(чел\w*|сотрудник\w*|пользовател\w*|юрист\w*|менеджер\w*)?"
                       r"\s*[.!]?\s*$", re.IGNORECASE)
_NAME = re.compile(r"^\s*([А-ЯЁ][а-яё]{1,20})(\s+[А-ЯЁ][а-яё]{1,25})?\s*[.!]?\s*$")
_NOT_NAMES = frozenset({"Дальше", "Далее", "Нет", "Да", "Потом", "Позже", "Спасибо", "Хорошо", "Понятно",
                        "Ясно", "Привет", "Здравствуйте", "Ок", "Окей", "Пропустить", "Стоп", "Отмена"})

_PACKAGE_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Package.START, ("старт", "start", "базов", "минимальн")),
    (Package.OPTIMUM, ("оптимум", "optimum", "оптимал", "средн")),
    (Package.ENTERPRISE, ("enterprise", "энтерпрайз", "интерпрайз", "энтерпрайс", "корпоратив", "максимальн")),
)
_PRODUCT_NUMBERS = {str(n): p for n, p in enumerate(PRODUCTS, 1)}  # the numbers of the Avito product list
_PRODUCT_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Product.AI_MANAGER, ("менеджер",)),
    (Product.AI_LAWYER, ("юрист",)),
    (Product.AI_ANALYST, ("аналитик",)),
)




def normalize_slot(name: str, value: Any) -> Any:
    """A valid slot value, or None when the value is not acceptable for that slot."""
    if value is None:
        return None
    if name in ("users", "integrations"):
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value.strip())
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int):
            return None
        low, high = (1, MAX_USERS) if name == "users" else (0, MAX_INTEGRATIONS)
        return value if low <= value <= high else None
    if name in OPTION_KEYS:
        if name == "sla" and isinstance(value, float):
            value = str(value)
        return value if isinstance(value, str) and value in OPTION_KEYS[name] else None
    if name == "product":
        return value if value in PRODUCTS else None
    if isinstance(value, str):
        text = " ".join(value.split())[:MAX_FREE_TEXT]
        return text or None
    return None


# Answers to a closed question in the words of its options («Свои серверы», «обычные сроки»), checked in order.
_OPTION_WORDS: dict[str, tuple[tuple[str, str], ...]] = {
    "hosting": ((r"облак|cloud", "cloud"), (r"гибрид|hybrid", "hybrid"),
                (r"сво\w* сервер|on.?prem|он.?прем|у себя|локальн|в контуре", "onprem")),
    "sla": ((r"99[,.]9", "99.9"), (r"99[,.]5", "99.5"), (r"стандарт|обычн|базов|рабочие часы", "standard")),
    "deadline": ((r"(2|две|двух)\s*недел", "lt2w"), (r"стандарт|обычн|не спеш|без спешки|не срочно|месяц", "standard"),
                 (r"недел|срочно|asap|горит", "lt1w")),
}


def option_from_text(slot: str, text: str) -> str | None:
    low = text.lower()
    for pattern, value in _OPTION_WORDS.get(slot, ()):
        if re.search(pattern, low):
            return value
    return None


def dont_know(text: str) -> bool:
    return bool(_DONT_KNOW.search(text))


def is_skip(text: str) -> bool:
    return bool(_SKIP.match(text))


_YES = re.compile(r"^\s*(да|давайте|давай|ок|окей|хорошо|можно|подключите|подключай\w*|согласен|согласна|"
                  r"да,? подключите|зовите)\s*[.!)]*\s*$", re.IGNORECASE)


def is_yes(text: str) -> bool:
    return bool(_YES.match(text))


def is_ack(text: str) -> bool:
    return bool(_ACK.match(text))


def bare_int(text: str) -> int | None:
    match = _BARE_INT.match(text)
    return int(match.group(1)) if match else None


def name_like(text: str) -> str | None:
    """«Анна», «Сергей Иванов» — one or two capitalised Cyrillic words, not a common reply word."""
    match = _NAME.match(text)
    if not match or match.group(1) in _NOT_NAMES:
        return None
    return " ".join(part.strip() for part in match.groups() if part)


def is_free_text_answer(text: str) -> bool:
    """Text that can stand as an answer to an open question (not a question itself, not a bare ack)."""
    stripped = text.strip()
    return bool(stripped) and not stripped.endswith("?") and not is_ack(stripped) and not is_skip(stripped) \
        and len(stripped) >= 2


def package_from_text(text: str) -> str | None:
    low = text.lower()
    found = [code for code, words in _PACKAGE_WORDS if any(word in low for word in words)]
    return found[0] if len(found) == 1 else None


def product_from_choice(text: str) -> str | None:
    """The product picked from the numbered Avito list («2», «2.», «юрист»)."""
    stripped = text.strip().rstrip(".)")
    if stripped in _PRODUCT_NUMBERS:
        return _PRODUCT_NUMBERS[stripped]
    low = text.lower()
    found = [code for code, words in _PRODUCT_WORDS if any(word in low for word in words)]
    return found[0] if len(found) == 1 else None


def document_kind(text: str) -> DocKind:
    low = text.lower()
    if "договор" in low:
        return "contract"
    if "счёт" in low or "счет" in low or "invoice" in low:
        return "invoice"
    return "proposal"


def has_contact(brief: dict[str, Any]) -> bool:
    return bool(brief.get("phone") or brief.get("email"))


def brief_complete(brief: dict[str, Any]) -> bool:
    return brief.get("product") in PRODUCTS and all(brief.get(slot) is not None for slot in PRICING_SLOTS)


def pricing_snapshot(brief: dict[str, Any]) -> dict[str, Any]:
    return {key: brief.get(key) for key in ("product", *PRICING_SLOTS)}


# --- echoes -----------------------------------------------------------------------------------------


def users_phrase(n: int) -> str:
    return f"{n} {plural(n, 'пользователь', 'пользователя', 'пользователей')}"


def integrations_phrase(n: int) -> str:
    if n == 0:
        return "без интеграций"
    return f"{n} {plural(n, 'интеграция', 'интеграции', 'интеграций')}"


def echo(name: str, value: Any) -> str | None:
    """How a pricing slot value is said back to the client, or None for slots not echoed."""
    if name == "users":
        return users_phrase(int(value))
    if name == "integrations":
        return integrations_phrase(int(value))
    if name == "hosting":
        return texts.HOSTING_ECHO[value]
    if name == "sla":
        return texts.SLA_ECHO[value]
    if name == "deadline":
        return texts.DEADLINE_ECHO[value]
    if name == "product":
        return PRODUCT_INFO[value].title
    return None


