"""The knowledge base says what the pricing engine computes, and its documents are shaped for ingest.

Every price, coefficient, worked example and case price in knowledge_base/ is recomputed with the engine and
DEFAULT_RATES; package contents must match the engine's ``includes``; objection scripts must cite real cases.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from db.rate_table import DEFAULT_RATES
from pipelines.price.engine import PACKAGE_INCLUDES, SLA_INCLUDES, calculate, round_price, validate_brief
from voronka.vocabulary import BAND_SLOTS as BAND_PARAMS
from voronka.vocabulary import OPTION_SLOTS as OPTION_PARAMS
from voronka.vocabulary import PACKAGE_TITLES as PACKAGE_NAMES
from voronka.vocabulary import PACKAGES, PRODUCT_INFO, PRODUCTS
from voronka.vocabulary import PRICING_SLOT_TITLES as PARAM_NAMES

KB = Path(__file__).resolve().parents[2] / "knowledge_base"
FOLDERS = ("services", "usp", "cases", "faq", "prices", "policies", "scripts")
R = DEFAULT_RATES

PACKAGE_BY_NAME = {name: code for code, name in PACKAGE_NAMES.items()}
PRODUCT_NAMES = {code: info.title for code, info in PRODUCT_INFO.items()}
PRODUCT_BY_NAME = {name: code for code, name in PRODUCT_NAMES.items()}
PARAM_BY_NAME = {name: code for code, name in PARAM_NAMES.items()}


def docs() -> list[Path]:
    return sorted(p for p in KB.rglob("*") if p.suffix in {".md", ".txt", ".html"})


def text_of(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def money(text: str) -> Decimal:
    """'1 369 000 ₽' (any spaces) → Decimal(1369000)."""
    return Decimal(re.sub(r"[\s\u00a0\u202f₽]", "", text))


def number(text: str) -> Decimal:
    return Decimal(text.strip().replace(",", "."))


def sections(text: str, level: str = "##") -> dict[str, str]:
    """Heading → body for headings of exactly this level."""
    parts = re.split(rf"^{level} (.+)$", text, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def table_rows(text: str) -> list[list[str]]:
    rows = []
    for line in text.splitlines():
        if line.startswith("|") and not re.match(r"^\|[-|\s]+\|$", line):
            rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows[1:] if rows else rows  # without the header


# --- shape ----------------------------------------------------------------------------------------------

def test_every_folder_has_documents_and_there_are_enough() -> None:
    all_docs = docs()
    assert len(all_docs) >= 18
    for folder in FOLDERS:
        assert list((KB / folder).glob("*.*")), folder
    assert len(list((KB / "cases").glob("*.md"))) >= 4


@pytest.mark.parametrize("path", docs(), ids=lambda p: str(p.relative_to(KB)))
def test_document_has_a_title_and_sections(path: Path) -> None:
    text = text_of(path)
    if path.suffix == ".html":
        soup = BeautifulSoup(text, "html.parser")
        h1 = soup.find("h1")
        assert h1 is not None and h1.get_text(strip=True)
        assert len(soup.find_all("h2")) >= 2
    else:
        first = text.lstrip().splitlines()[0]
        assert re.match(r"^# \S", first), first
        assert len(sections(text)) >= 2
    assert re.search("[а-яё]{4}", text)  # Russian content


# --- prices ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("product", PRODUCTS)
def test_base_rates_in_price_document_equal_the_engine(product: str) -> None:
    text = text_of(KB / "prices" / f"{product}.md")
    assert text.startswith(f"# Цены: {PRODUCT_NAMES[product]}")
    rows = table_rows(sections(text)["Базовые ставки"])
    documented = {PACKAGE_BY_NAME[row[0]]: money(row[1]) for row in rows}
    assert documented == {package: R.base_price(product, package) for package in PACKAGES}


@pytest.mark.parametrize("product", PRODUCTS)
def test_worked_examples_in_price_document_equal_the_engine(product: str) -> None:
    text = text_of(KB / "prices" / f"{product}.md")
    rows = table_rows(sections(text)["Примеры расчёта"])
    assert len(rows) >= 3
    labels = {param: {o.label: o.key for o in R.options(param)} for param in OPTION_PARAMS}
    for users, integrations, hosting, sla, deadline, *prices in rows:
        brief = validate_brief({"product": product, "users": int(users), "integrations": int(integrations),
                                "hosting": labels["hosting"][hosting], "sla": labels["sla"][sla],
                                "deadline": labels["deadline"][deadline]})
        result = calculate(brief, R)
        assert [money(p) for p in prices] == [p.price for p in result.packages], (users, integrations)


def test_coefficient_table_equals_the_engine() -> None:
    rows = table_rows(sections(text_of(KB / "prices" / "coefficients.md"))["Таблица коэффициентов"])
    documented = {(PARAM_BY_NAME[param], label): number(value) for param, label, value in rows}
    expected = {}
    for param in BAND_PARAMS:
        for band in R.bands(param):
            expected[(param, band.label)] = band.value
            bounds = re.match(r"^(\d+)(?:–(\d+)| и более)$", band.label)
            assert bounds is not None
            assert int(bounds[1]) == band.lower
            assert (int(bounds[2]) if bounds[2] else None) == band.upper
    for param in OPTION_PARAMS:
        for option in R.options(param):
            expected[(param, option.label)] = option.value
    assert documented == expected
    assert len(rows) == len(expected)  # no row twice


def test_every_multiplication_in_price_documents_is_right() -> None:
    coefficient_values = {row["value"] for row in R.coefficient_rows()}
    base_values = set(R.base.values())
    pattern = re.compile(r"(\d[\d  ]*\d(?: × \d+(?:,\d+)?)+) = (\d[\d  ]*\d)(?: → (\d[\d  ]*\d))? ₽")
    checked = 0
    for path in sorted((KB / "prices").glob("*.md")):
        for expression, exact, rounded in pattern.findall(text_of(path)):
            base, *factors = [number(re.sub(r"[  ]", "", part)) for part in expression.split(" × ")]
            assert base in base_values, (path.name, expression)
            assert all(f in coefficient_values for f in factors), (path.name, expression)
            product = base
            for factor in factors:
                product *= factor
            assert product == money(exact), (path.name, expression)
            assert round_price(product) == money(rounded or exact), (path.name, expression)
            checked += 1
    assert checked >= 5


def test_from_prices_anywhere_are_start_base_rates() -> None:
    """«ИИ-Юрист от 120 000 ₽», «Старт — от 90 000 ₽» under a heading naming one product."""
    checked = 0
    for path in docs():
        text = text_of(path)
        for name, amount in re.findall(r"(ИИ-Менеджер|ИИ-Юрист|ИИ-Аналитик) от (\d[\d  ]*\d) ₽", text):
            assert money(amount) == R.base_price(PRODUCT_BY_NAME[name], "start"), path
            checked += 1
        for heading, body in sections(text).items():
            named = [code for name, code in PRODUCT_BY_NAME.items() if name in heading]
            for package, amount in re.findall(r"(Старт|Оптимум|Enterprise) — от (\d[\d  ]*\d) ₽", body):
                assert len(named) == 1, (path, heading)
                assert money(amount) == R.base_price(named[0], PACKAGE_BY_NAME[package]), (path, heading)
                checked += 1
    assert checked >= 6


# --- cases ----------------------------------------------------------------------------------------------

CASE_FIELDS = ("Продукт", "Пакет", "Пользователи", "Интеграции", "Размещение", "SLA", "Срок",
               "Стоимость внедрения")
TIMELINE_WEEKS = {"start": (2, 3), "optimum": (4, 6), "enterprise": (8, 12)}


@pytest.mark.parametrize("path", sorted((KB / "cases").glob("*.md")), ids=lambda p: p.name)
def test_case_price_and_timeline_follow_the_engine(path: Path) -> None:
    text = text_of(path)
    parts = sections(text)
    for needed in ("Клиент", "Задача", "Решение", "Сроки", "Пакет и стоимость"):
        assert needed in parts, needed
    assert any(h.startswith("Результат") for h in parts)
    assert re.search(r"\d", parts["Задача"]) and re.search(r"\d", next(v for h, v in parts.items()
                                                                        if h.startswith("Результат")))
    facts = dict(re.findall(r"^- ([^:\n]+): (.+)$", parts["Пакет и стоимость"], flags=re.M))
    assert set(CASE_FIELDS) <= set(facts)
    package = PACKAGE_BY_NAME[facts["Пакет"]]
    labels = {param: {o.label: o.key for o in R.options(param)} for param in OPTION_PARAMS}
    brief = validate_brief({
        "product": PRODUCT_BY_NAME[facts["Продукт"]],
        "users": int(facts["Пользователи"]),
        "integrations": int(facts["Интеграции"].split()[0]),
        "hosting": labels["hosting"][facts["Размещение"]],
        "sla": labels["sla"][facts["SLA"]],
        "deadline": labels["deadline"][facts["Срок"]],
    })
    quote = calculate(brief, R).package(package)
    # the case states what the package really gives, so hosting and SLA must already obey the package rules
    assert (quote.hosting, quote.sla) == (brief.hosting, brief.sla)
    assert quote.price == money(facts["Стоимость внедрения"])
    integrations_listed = re.search(r"\((.+)\)", facts["Интеграции"])
    if brief.integrations:
        assert integrations_listed and len(integrations_listed[1].split(", ")) == brief.integrations
    low, high = TIMELINE_WEEKS[package]
    launches = re.findall(r"^- (?:Запуск[^:]*|Полный запуск|Внедрение): (\d+) недел", parts["Сроки"], flags=re.M)
    assert launches and all(low <= int(weeks) <= high for weeks in launches), launches


# --- services -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("product", PRODUCTS)
def test_service_document_lists_what_the_engine_includes(product: str) -> None:
    text = text_of(KB / "services" / f"{product}.md")
    packages = sections(sections(text)["Что входит в пакеты"], "###")
    for package in PACKAGES:
        bullets = set(re.findall(r"^- (.+)$", packages[PACKAGE_NAMES[package]], flags=re.M))
        missing = [item for item in PACKAGE_INCLUDES[product][package] if item not in bullets]
        assert not missing, (package, missing)
    low_high = {f"{PACKAGE_NAMES[p]} — {lo}–{hi} недел" for p, (lo, hi) in TIMELINE_WEEKS.items()}
    assert all(item in text for item in low_high)


# --- scripts --------------------------------------------------------------------------------------------

OBJECTIONS = ("дорого", "подумаю", "не доверяю ии", "у нас уже есть crm", "а гарантии?", "нет времени",
              "сделаем сами")


def test_every_objection_has_a_script_with_an_answer_and_a_real_case() -> None:
    scripts = {text_of(p).splitlines()[0].lower(): p for p in (KB / "scripts").glob("*.md")}
    for objection in OBJECTIONS:
        found = [p for title, p in scripts.items() if objection in title]
        assert len(found) == 1, objection
        parts = sections(text_of(found[0]))
        assert len(parts["Ответ"].split()) >= 30
        references = re.findall(r"«([^»]+(?:«[^»]+»[^»]*)?)» \((cases/[\w.]+\.md)\)", parts["Кейс"])
        assert references, objection
        for title, case_path in references:
            case = KB / case_path
            assert case.exists(), case_path
            assert text_of(case).splitlines()[0] == f"# {title}"
        assert re.search(r"\d", parts["Кейс"])  # the case is cited with a number


# --- shared facts ---------------------------------------------------------------------------------------

def test_pilot_is_14_days_everywhere() -> None:
    durations = []
    for path in docs():
        durations += re.findall(r"[Пп]илот[^.\n]{0,40}?(\d+) (?:дн|день)", text_of(path))
        durations += re.findall(r"(\d+) дн[а-я]* (?:работы ассистента|бесплатн)", text_of(path))
    assert durations and set(durations) == {"14"}


def test_contacts_and_hours_are_the_same_everywhere() -> None:
    about = text_of(KB / "services" / "about.md")
    for fact in ("ООО «Воронка ИИ»", "Москва", "sales@voronka.ai", "+7 495 000-00-00", "пн–пт 10:00–19:00 МСК"):
        assert fact in about
    for path in docs():
        text = text_of(path)
        assert not re.search(r"\+7 \d{3} (?!000-00-00)\d{3}-\d{2}-\d{2}", text), path
        assert set(re.findall(r"[\w.]+@voronka\.ai", text)) <= {"sales@voronka.ai", "support@voronka.ai"}, path
        for hours in re.findall(r"пн–пт (\d\d:\d\d–\d\d:\d\d)", text):
            assert hours == "10:00–19:00", path


def test_sla_policy_matches_what_packages_promise() -> None:
    rows = table_rows(text_of(KB / "policies" / "sla.md"))
    by_level = {row[0]: row for row in rows}
    for level, key in (("99,5%", "99.5"), ("99,9%", "99.9")):
        promised = re.search(r"до \d+ \w+", SLA_INCLUDES[key])
        assert promised is not None and by_level[level][-1] == promised[0]
    for level, coefficient in (("Стандарт", "standard"), ("99,5%", "99.5"), ("99,9%", "99.9")):
        assert number(by_level[level][1].lstrip("×")) == R.option("sla", coefficient).value
