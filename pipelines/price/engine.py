"""Price calculation (spec §6.3): price = base × users × integrations × hosting × sla × deadline.

The brief states what the client asked for; each of the three packages then fixes or inherits hosting and SLA:

* **Старт** (``start``) — basic features. Always cloud (×1.0) and standard SLA (×1.0), whatever the client
  asked; when the client asked for hybrid/on-premise or a higher SLA the package says so in its notes
  («Старт только в облаке…»).
* **Оптимум** (``optimum``) — extended integrations, corporate SLA. Hosting: cloud or hybrid as asked; a
  request for on-premise becomes hybrid (on-premise is only in Enterprise, said in the notes). SLA: at least
  99.5% — the client's SLA if higher (99.9%), otherwise 99.5%.
* **Enterprise** (``enterprise``) — customisation, on-premise, dedicated support. Hosting exactly as asked
  (on-premise allowed). SLA: always 99.9%.

Users, integrations and deadline are the client's own in every package. Every package is priced from its own
base rate with its own coefficients; the product of the exact Decimal coefficients is rounded once, to a whole
1 000 ₽ (ROUND_HALF_UP). The brief's own coefficients (as asked) are reported separately from each package's.

Each package also carries ``drivers``: short Russian sentences saying which coefficient raises the price and
what the price would be with the cheaper choice («On-premise ×2,5 — в облаке было бы 156 000 ₽»).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeGuard

from db.rate_table import RateTable
from pipelines.russian import plural
from voronka.errors import ValidationError
from voronka.vocabulary import OPTION_KEYS, PACKAGE_TITLES, PACKAGES, PRICING_SLOTS, PRODUCT_INFO, PRODUCTS, Hosting

MAX_USERS = 1_000_000
_PRODUCT_HINTS = tuple(f"{p} ({p.info.title})" for p in PRODUCTS)  # «ai_lawyer (ИИ-Юрист)» in error messages
ROUNDING_STEP = Decimal(1000)
CURRENCY = "RUB"
NBSP = "\u00a0"

# --- package rules -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PackageRule:
    hosting_allowed: tuple[str, ...]  # cheapest first; a request outside it takes the last (most capable) one
    sla_floor: str
    sla_ceiling: str


PACKAGE_RULES: dict[str, PackageRule] = {
    "start": PackageRule(hosting_allowed=("cloud",), sla_floor="standard", sla_ceiling="standard"),
    "optimum": PackageRule(hosting_allowed=("cloud", "hybrid"), sla_floor="99.5", sla_ceiling="99.9"),
    "enterprise": PackageRule(hosting_allowed=tuple(Hosting), sla_floor="99.9",
                              sla_ceiling="99.9"),
}

# What each package gives, per product (static part; hosting and SLA lines are added from the resolved
# brief). The same bullet lists are in knowledge_base/services/<product>.md (tests/unit/test_kb_content.py).
PACKAGE_INCLUDES: dict[str, dict[str, tuple[str, ...]]] = {
    "ai_manager": {
        "start": (
            "Ответы клиентам в одном канале: Avito, Telegram или чат на сайте",
            "Квалификация заявки и передача лида в CRM",
            "Ответы по базе знаний до 100 документов",
            "Запуск за 2–3 недели",
            "Сопровождение 1 месяц",
        ),
        "optimum": (
            "Все каналы: Avito, Telegram, чат на сайте, ВКонтакте",
            "Запись на встречи в календарь и напоминания",
            "Расчёт цены и отправка КП клиенту",
            "Обработка возражений по скриптам",
            "Запуск за 4–6 недель",
            "Сопровождение 3 месяца",
        ),
        "enterprise": (
            "Всё из Оптимума и доработка сценариев под ваши процессы",
            "Свои интеграции: телефония, 1С, внутренние системы",
            "Выделенный менеджер и инженер поддержки",
            "Запуск за 8–12 недель",
            "Сопровождение 6 месяцев",
        ),
    },
    "ai_lawyer": {
        "start": (
            "Проверка договоров по вашему чек-листу рисков",
            "Шаблоны типовых документов: до 20 шаблонов",
            "Ответы сотрудникам на правовые вопросы по базе знаний",
            "Запуск за 2–3 недели",
            "Сопровождение 1 месяц",
        ),
        "optimum": (
            "Проверка договоров и протокол разногласий",
            "Проверка контрагентов через Контур.Фокус",
            "Контроль сроков по договорам с напоминаниями",
            "Шаблоны документов без ограничения числа",
            "Запуск за 4–6 недель",
            "Сопровождение 3 месяца",
        ),
        "enterprise": (
            "Всё из Оптимума и обучение на вашей судебной и договорной практике",
            "Интеграция с СЭД: 1С:Документооборот, Directum, ЭДО",
            "Выделенный юрист-методолог и инженер поддержки",
            "Запуск за 8–12 недель",
            "Сопровождение 6 месяцев",
        ),
    },
    "ai_analyst": {
        "start": (
            "Источники данных: CRM, 1С, Google Таблицы",
            "Вопросы к данным на русском языке в Telegram",
            "Еженедельный отчёт по продажам",
            "Запуск за 2–3 недели",
            "Сопровождение 1 месяц",
        ),
        "optimum": (
            "Дашборды и ежедневные отчёты",
            "Рекламные кабинеты: Яндекс Директ, VK Реклама, Яндекс Метрика",
            "Оповещения об отклонениях метрик",
            "Прогноз продаж на 3 месяца",
            "Запуск за 4–6 недель",
            "Сопровождение 3 месяца",
        ),
        "enterprise": (
            "Всё из Оптимума и модели под вашу отрасль",
            "Базы данных: PostgreSQL, MySQL, ClickHouse, MS SQL",
            "Разграничение доступа к данным по ролям",
            "Выделенный аналитик и инженер поддержки",
            "Запуск за 8–12 недель",
            "Сопровождение 6 месяцев",
        ),
    },
}

HOSTING_INCLUDES: dict[str, str] = {
    "cloud": "Размещение в облаке в РФ (Yandex Cloud)",
    "hybrid": "Гибридное размещение: данные в вашем контуре",
    "onprem": "On-premise: установка на ваши серверы",
}
SLA_INCLUDES: dict[str, str] = {
    "standard": "SLA стандарт: поддержка пн–пт 10:00–19:00 МСК",
    "99.5": "SLA 99,5%: мониторинг 24/7, реакция на критичный сбой до 2 часов",
    "99.9": "SLA 99,9%: мониторинг 24/7, реакция на критичный сбой до 30 минут",
}

# --- brief --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Brief:
    product: str
    users: int
    integrations: int = 0
    hosting: str = "cloud"
    sla: str = "standard"
    deadline: str = "standard"

    def as_dict(self) -> dict[str, Any]:
        return {"product": self.product, "users": self.users, "integrations": self.integrations,
                "hosting": self.hosting, "sla": self.sla, "deadline": self.deadline}


def _invalid(message: str, field_name: str | None) -> ValidationError:
    return ValidationError(message, field=field_name, code="invalid_brief")


def _strict_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def validate_brief(data: object) -> Brief:
    """Check a brief dict and return a ``Brief``; raise ``ValidationError(code="invalid_brief", field=...)``.

    ``users`` is required: an integer 1…1 000 000 (a bool, float or string such as "20" is refused).
    ``integrations`` defaults to 0 (non-negative integer); ``hosting`` cloud|hybrid|onprem (default cloud);
    ``sla`` standard|99.5|99.9 (default standard; the numbers 99.5 and 99.9 are accepted too);
    ``deadline`` standard|lt2w|lt1w (default standard). A key with ``null`` counts as absent; other keys are
    ignored.
    """
    if not isinstance(data, dict):
        raise _invalid("Бриф должен быть объектом с полями product, users, integrations, hosting, sla, "
                       "deadline.", None)

    product = data.get("product")
    if product is None:
        raise _invalid(f"Укажите продукт: {', '.join(_PRODUCT_HINTS[:-1])} или {_PRODUCT_HINTS[-1]}.", "product")
    if not isinstance(product, str) or product not in PRODUCTS:
        raise _invalid(f"Неизвестный продукт. Доступны: {', '.join(_PRODUCT_HINTS)}.", "product")

    users = data.get("users")
    if users is None:
        raise _invalid("Укажите число пользователей — целое число от 1 до 1 000 000.", "users")
    if not _strict_int(users):
        raise _invalid("Число пользователей должно быть целым числом от 1 до 1 000 000.", "users")
    if users < 1:
        raise _invalid("Число пользователей должно быть не меньше 1.", "users")
    if users > MAX_USERS:
        raise _invalid("Число пользователей не может быть больше 1 000 000.", "users")

    integrations = data.get("integrations")
    if integrations is None:
        integrations = 0
    if not _strict_int(integrations):
        raise _invalid("Число интеграций должно быть целым числом, 0 или больше.", "integrations")
    if integrations < 0:
        raise _invalid("Число интеграций не может быть отрицательным.", "integrations")

    hosting = _option(data, "hosting", "Размещение: cloud (облако), hybrid (гибрид) или onprem (on-premise).")
    sla_value = data.get("sla")
    if isinstance(sla_value, float) and sla_value in (99.5, 99.9):
        sla_value = str(sla_value)
    sla = _option({"sla": sla_value}, "sla", "SLA: standard, 99.5 или 99.9.")
    deadline = _option(data, "deadline", "Срок: standard (стандартный), lt2w (менее 2 недель) или lt1w "
                                         "(менее 1 недели).")
    return Brief(product=product, users=users, integrations=integrations, hosting=hosting, sla=sla,
                 deadline=deadline)


def _option(data: dict[str, Any], name: str, hint: str) -> str:
    value = data.get(name)
    if value is None:
        return OPTION_KEYS[name][0]
    if not isinstance(value, str) or value not in OPTION_KEYS[name]:
        raise _invalid(f"Неизвестное значение поля {name}. {hint}", name)
    return value


# --- result -------------------------------------------------------------------------------------


@dataclass
class PackageQuote:
    code: str
    name: str
    price: Decimal
    coefficients: dict[str, Decimal]
    includes: list[str]
    hosting: str
    sla: str
    base_price: Decimal
    drivers: list[str] = field(default_factory=list)  # why the price is what it is, what would lower it
    notes: list[str] = field(default_factory=list)  # where the package differs from what the client asked
    currency: str = CURRENCY

    def as_cli_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "price": int(self.price), "currency": self.currency,
                "coefficients": {k: float(v) for k, v in self.coefficients.items()},
                "includes": list(self.includes)}


@dataclass
class QuoteResult:
    brief: Brief
    coefficients: dict[str, Decimal]  # the brief's own, as the client asked
    packages: list[PackageQuote]

    def package(self, code: str) -> PackageQuote:
        for package in self.packages:
            if package.code == code:
                return package
        raise KeyError(code)

    def as_cli_dict(self) -> dict[str, Any]:
        return {"coefficients": {k: float(v) for k, v in self.coefficients.items()},
                "packages": [p.as_cli_dict() for p in self.packages]}


# --- calculation --------------------------------------------------------------------------------


def round_price(amount: Decimal) -> Decimal:
    """Round roubles to a whole 1 000 ₽, halves up (134 500 → 135 000)."""
    return (amount / ROUNDING_STEP).quantize(Decimal(1), rounding=ROUND_HALF_UP) * ROUNDING_STEP


def format_rub(amount: Decimal) -> str:
    """«135 000 ₽» with non-breaking spaces."""
    whole = int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    return f"{whole:,}".replace(",", NBSP) + f"{NBSP}₽"


def format_coef(value: Decimal) -> str:
    """«×1,5» — Russian decimal comma, at least one decimal place."""
    text = format(value.normalize(), "f")
    if "." not in text:
        text += ".0"
    return "×" + text.replace(".", ",")


def coefficients_for(brief: Brief, rates: RateTable, *, hosting: str | None = None,
                     sla: str | None = None) -> dict[str, Decimal]:
    return {
        "users": rates.band("users", brief.users).value,
        "integrations": rates.band("integrations", brief.integrations).value,
        "hosting": rates.option("hosting", hosting or brief.hosting).value,
        "sla": rates.option("sla", sla or brief.sla).value,
        "deadline": rates.option("deadline", brief.deadline).value,
    }


def _price(base: Decimal, coefficients: dict[str, Decimal]) -> Decimal:
    amount = base
    for param in PRICING_SLOTS:
        amount *= coefficients[param]
    return round_price(amount)


def resolve_package(code: str, brief: Brief) -> tuple[str, str]:
    """The hosting and SLA a package actually gives for this brief (see the module docstring)."""
    rule = PACKAGE_RULES[code]
    hosting = brief.hosting if brief.hosting in rule.hosting_allowed else rule.hosting_allowed[-1]
    order = OPTION_KEYS["sla"]
    rank = max(order.index(brief.sla), order.index(rule.sla_floor))
    rank = min(rank, order.index(rule.sla_ceiling))
    return hosting, order[rank]


def calculate(brief: Brief, rates: RateTable) -> QuoteResult:
    """Price the three packages for a validated brief."""
    packages = []
    for code in PACKAGES:
        hosting, sla = resolve_package(code, brief)
        coefficients = coefficients_for(brief, rates, hosting=hosting, sla=sla)
        base = rates.base_price(brief.product, code)
        price = _price(base, coefficients)
        includes = [*PACKAGE_INCLUDES[brief.product][code], HOSTING_INCLUDES[hosting], SLA_INCLUDES[sla]]
        package = PackageQuote(code=code, name=PACKAGE_TITLES[code], price=price, coefficients=coefficients,
                               includes=includes, hosting=hosting, sla=sla, base_price=base)
        package.notes = _notes(code, brief, hosting, sla)
        package.drivers = _drivers(package, brief, rates)
        packages.append(package)
    return QuoteResult(brief=brief, coefficients=coefficients_for(brief, rates), packages=packages)


def quote(data: object, rates: RateTable) -> QuoteResult:
    """``validate_brief`` + ``calculate``."""
    return calculate(validate_brief(data), rates)


# --- explanations ---------------------------------------------------------------------------------




def _users_phrase(n: int) -> str:
    return f"{n} {plural(n, 'пользователь', 'пользователя', 'пользователей')}"


def _users_at(n: int) -> str:  # «при 10 пользователях»
    return f"при {n} {plural(n, 'пользователе', 'пользователях', 'пользователях')}"


def _integrations_phrase(n: int) -> str:
    if n == 0:
        return "без интеграций"
    return f"{n} {plural(n, 'интеграция', 'интеграции', 'интеграций')}"


def _integrations_at(n: int) -> str:  # «при 2 интеграциях»
    return f"при {n} {plural(n, 'интеграции', 'интеграциях', 'интеграциях')}"


HOSTING_PHRASE = {"cloud": "облако", "hybrid": "гибридное размещение", "onprem": "on-premise"}
HOSTING_AT = {"cloud": "в облаке", "hybrid": "при гибридном размещении", "onprem": "on-premise"}
SLA_PHRASE = {"standard": "стандартный SLA", "99.5": "SLA 99,5%", "99.9": "SLA 99,9%"}
SLA_AT = {"standard": "со стандартным SLA", "99.5": "с SLA 99,5%", "99.9": "с SLA 99,9%"}
DEADLINE_PHRASE = {"standard": "стандартный срок", "lt2w": "запуск быстрее 2 недель",
                   "lt1w": "запуск быстрее 1 недели"}
DEADLINE_AT = {"standard": "при стандартном сроке", "lt2w": "при сроке 2 недели",
               "lt1w": "при сроке 1 неделя"}


def _notes(code: str, brief: Brief, hosting: str, sla: str) -> list[str]:
    notes = []
    if hosting != brief.hosting:
        if code == "start":
            where = ("on-premise — в Enterprise" if brief.hosting == "onprem"
                     else "гибрид — в Оптимуме и Enterprise")
            notes.append(f"Старт только в облаке: {where}.")
        else:
            notes.append("On-premise — только в Enterprise; в Оптимуме — гибридное размещение, "
                         "данные остаются в вашем контуре.")
    order = OPTION_KEYS["sla"]
    if order.index(sla) < order.index(brief.sla):  # only Старт can give less than asked
        notes.append(f"В Старте стандартный SLA (пн–пт 10:00–19:00 МСК); {SLA_PHRASE[brief.sla]} — "
                     "в Оптимуме и Enterprise.")
    return notes


def _drivers(package: PackageQuote, brief: Brief, rates: RateTable) -> list[str]:
    rule = PACKAGE_RULES[package.code]
    coefficients = package.coefficients
    drivers: list[str] = [f"Базовая ставка {package.name} для {PRODUCT_INFO[brief.product].title_genitive} — "
                          f"{format_rub(package.base_price)}."]

    def alt_price(param: str, value: Decimal) -> str:
        return format_rub(_price(package.base_price, {**coefficients, param: value}))

    for param in ("users", "integrations"):
        n = brief.users if param == "users" else brief.integrations
        idx = rates.band_index(param, n)
        if coefficients[param] == 1:
            continue
        bands = rates.bands(param)
        lower_band = bands[idx - 1] if idx > 0 else None
        phrase = _users_phrase(n) if param == "users" else _integrations_phrase(n)
        text = f"{phrase[0].upper()}{phrase[1:]} {format_coef(coefficients[param])}"
        if lower_band is not None and lower_band.upper is not None:
            at = _users_at(lower_band.upper) if param == "users" else _integrations_at(lower_band.upper)
            text += f" — {at} было бы {alt_price(param, lower_band.value)}"
        drivers.append(text + ".")

    hosting = package.hosting
    if coefficients["hosting"] != 1:
        cheapest = rule.hosting_allowed[0]
        phrase = HOSTING_PHRASE[hosting]
        text = f"{phrase[0].upper()}{phrase[1:]} {format_coef(coefficients['hosting'])}"
        if cheapest != hosting:
            cheaper = alt_price("hosting", rates.option("hosting", cheapest).value)
            text += f" — {HOSTING_AT[cheapest]} было бы {cheaper}"
        drivers.append(text + ".")

    sla = package.sla
    if coefficients["sla"] != 1:
        text = f"{SLA_PHRASE[sla]} {format_coef(coefficients['sla'])}"
        if sla == rule.sla_floor:
            text += f" — входит в пакет {package.name}"
        else:
            floor = rule.sla_floor
            text += f" — {SLA_AT[floor]} было бы {alt_price('sla', rates.option('sla', floor).value)}"
        drivers.append(text[0].upper() + text[1:] + ".")

    deadline = brief.deadline
    if coefficients["deadline"] != 1:
        keys = OPTION_KEYS["deadline"]
        previous = keys[keys.index(deadline) - 1]
        phrase = DEADLINE_PHRASE[deadline]
        cheaper = alt_price("deadline", rates.option("deadline", previous).value)
        text = (f"{phrase[0].upper()}{phrase[1:]} {format_coef(coefficients['deadline'])} — "
                f"{DEADLINE_AT[previous]} было бы {cheaper}")
        drivers.append(text + ".")

    if len(drivers) == 1:
        drivers.append("Все коэффициенты ×1,0 — цена равна базовой ставке пакета.")
    return drivers


# --- chat text --------------------------------------------------------------------------------------


def describe_brief(brief: Brief) -> str:
    hosting = {"cloud": "облако", "hybrid": "гибрид", "onprem": "on-premise"}[brief.hosting]
    sla = {"standard": "SLA стандарт", "99.5": "SLA 99,5%", "99.9": "SLA 99,9%"}[brief.sla]
    deadline = {"standard": "стандартный срок", "lt2w": "срок менее 2 недель",
                "lt1w": "срок менее 1 недели"}[brief.deadline]
    return (f"{_users_phrase(brief.users)}, {_integrations_phrase(brief.integrations)}, {hosting}, {sla}, "
            f"{deadline}")


def format_quote_text(result: QuoteResult, channel: str) -> str:
    """A short Russian answer for a chat.

    Plain text on every channel: messages are sent without a parse mode, and the site widget shows text as is.
    """
    lines = [f"Расчёт для {PRODUCT_INFO[result.brief.product].title_genitive}: {describe_brief(result.brief)}.", ""]
    for package in result.packages:
        lines.append(f"{package.name} — {format_rub(package.price)}")
        for text in (*package.notes, *package.drivers[1:]):
            lines.append(f"• {text}")
        lines.append("")
    lines.append("Цена — разовая стоимость внедрения, НДС не облагается. "
                 "Точную сумму закрепим в КП и договоре.")
    return "\n".join(lines)


__all__ = [
    "PACKAGE_INCLUDES",
    "PACKAGE_RULES",
    "Brief",
    "PackageQuote",
    "QuoteResult",
    "calculate",
    "format_coef",
    "format_quote_text",
    "format_rub",
    "quote",
    "round_price",
    "validate_brief",
]
