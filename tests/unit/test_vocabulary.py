"""The domain vocabulary (voronka/vocabulary.py): its values are the strings already stored and sent, every term
carries its Russian names, and each term is defined there only — the product code has no second list elsewhere, and
no module spells a product's Russian title itself."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from db.rate_table import DEFAULT_RATES
from pipelines import retrieve
from pipelines.dialog import texts
from pipelines.document import context as document_context
from pipelines.price import engine as price_engine
from pipelines.understand.lexicon import PRODUCT_PATTERNS
from voronka import vocabulary as v

ROOT = Path(__file__).resolve().parents[2]
PRODUCT_PACKAGES = ("voronka", "web", "bot", "workers", "pipelines", "db", "integrations", "cli")


# --- values: the strings in the database, the API, the labelled data ---------------------------------------------


def test_values_are_the_stored_strings() -> None:
    # what leads.product / price_rates.product, price_rates.package, leads.stage, *.channel and the brief hold
    assert list(v.PRODUCTS) == ["ai_manager", "ai_lawyer", "ai_analyst"]
    assert v.NO_PRODUCT == "none" and list(v.PRODUCT_OR_NONE) == [*v.PRODUCTS, "none"]
    assert list(v.PACKAGES) == ["start", "optimum", "enterprise"] and v.RECOMMENDED_PACKAGE == "optimum"
    assert list(v.FUNNEL) == ["new", "qualified", "brief_done", "quoted", "booked", "paid"]
    assert list(v.STAGES) == [*v.FUNNEL, "lost"]
    assert list(v.CHANNELS) == ["avito", "telegram", "site"]
    assert list(v.PRICING_SLOTS) == ["users", "integrations", "hosting", "sla", "deadline"]
    assert {k: list(keys) for k, keys in v.OPTION_KEYS.items()} == {
        "hosting": ["cloud", "hybrid", "onprem"], "sla": ["standard", "99.5", "99.9"],
        "deadline": ["standard", "lt2w", "lt1w"]}
    assert list(v.INTENTS) == ["greeting", "product_info", "price", "brief", "objection", "booking", "payment",
                               "documents", "human", "faq", "other"]
    assert list(v.EMOTIONS) == ["positive", "neutral", "negative"]
    assert [c.info.source_tag for c in v.CHANNELS] == ["avito-lead", "telegram-lead", "site-lead"]


def test_members_are_plain_strings_to_json_and_format() -> None:
    value = {v.Product.AI_LAWYER: [v.Package.OPTIMUM, v.Stage.QUOTED, v.Sla.P99_9]}
    assert json.dumps(value) == '{"ai_lawyer": ["optimum", "quoted", "99.9"]}'
    assert f"product:{v.Product.AI_LAWYER}" == "product:ai_lawyer" and str(v.Intent.FAQ) == "faq"


def test_the_price_migration_seeds_the_vocabulary() -> None:
    """The rows 0003_pricing inserted are exactly products × packages: no stored row falls outside the enums."""
    text = (ROOT / "db" / "migrations" / "versions" / "0003_pricing.py").read_text(encoding="utf-8")
    seeded = set(re.findall(r'"product": "(\w+)",\s*"package": "(\w+)"', text))
    assert seeded == {(p, k) for p in v.PRODUCTS for k in v.PACKAGES}
    assert set(DEFAULT_RATES.base) == seeded


@pytest.mark.parametrize("name", ["nlu_labelled.jsonl", "nlu_holdout_v5.jsonl"])
def test_labelled_messages_use_the_vocabulary(name: str) -> None:
    slots = {*v.PRICING_SLOTS, *v.OTHER_SLOTS}
    for line in (ROOT / "tests" / "data" / name).read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        rec = json.loads(line)
        assert rec["intent"] in v.INTENTS and rec["product"] in v.PRODUCT_OR_NONE and rec["emotion"] in v.EMOTIONS
        assert set(rec.get("slots", {})) <= slots
        for option in v.OPTION_SLOTS:
            if option in rec.get("slots", {}):
                assert rec["slots"][option] in v.OPTION_KEYS[option]


def test_the_site_offers_the_vocabulary() -> None:
    """The site's radio buttons, lead form and its JS carry product codes and titles of their own: they must agree."""
    page = (ROOT / "templates" / "site" / "index.html").read_text(encoding="utf-8")
    radios = re.findall(r'name="product" value="(\w+)"[^>]*><span>([^<]+)</span>', page)
    assert radios == [(str(p), p.info.title) for p in v.PRODUCTS]
    options = re.findall(r'<option value="(ai_\w+)">([^<—]+?) —', page)
    assert options == [(str(p), p.info.title) for p in v.PRODUCTS]
    script = (ROOT / "web" / "static" / "site.js").read_text(encoding="utf-8")
    names = dict(re.findall(r'(ai_\w+): "([^"]+)"', script.split("PRODUCT_NAMES", 1)[1].split("};", 1)[0]))
    assert names == {str(p): p.info.title for p in v.PRODUCTS}


def test_every_product_has_its_knowledge_base_pages() -> None:
    for product in v.PRODUCTS:
        assert (ROOT / "knowledge_base" / "services" / f"{product}.md").exists()
        assert (ROOT / "knowledge_base" / "prices" / f"{product}.md").exists()


# --- every term carries its Russian names -------------------------------------------------------------------------


CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def test_every_product_has_russian_titles_and_a_pitch() -> None:
    assert set(v.PRODUCT_INFO) == set(v.PRODUCTS)
    for product in v.PRODUCTS:
        info = product.info
        assert info.code is product
        assert info.title.startswith("ИИ-") and CYRILLIC.search(info.title)
        assert info.title_genitive.startswith(info.title) and info.title_genitive != info.title
        assert CYRILLIC.search(info.pitch) and not info.pitch.endswith(".")  # «{title} — {pitch}.»
        assert v.product_title(product) == v.product_title(str(product)) == info.title
    assert v.product_title(v.NO_PRODUCT) == v.product_title(None) == v.product_title("nope") == ""
    assert v.product_titles_listed() == "ИИ-Менеджер, ИИ-Юрист или ИИ-Аналитик"


def test_every_package_channel_stage_and_slot_is_named() -> None:
    assert set(v.PACKAGE_TITLES) == set(v.PACKAGES) and all(v.PACKAGE_TITLES.values())
    assert [p.title_ru for p in v.PACKAGES] == ["Старт", "Оптимум", "Enterprise"]
    assert v.package_title("optimum") == "Оптимум" and v.package_title("x", "x") == "x"
    assert set(v.CHANNEL_INFO) == set(v.CHANNELS)
    assert all(c.info.code is c and c.info.label and c.info.in_text for c in v.CHANNELS)
    assert v.channel_label("site") == "Сайт" and v.channel_in_text("avito") == "Авито"
    assert v.channel_in_text("vk") == "vk" and v.channel_label("", "—") == "—"
    assert set(v.STAGE_LABELS) == set(v.STAGES) and all(CYRILLIC.search(s.label) for s in v.STAGES)
    assert set(v.PRICING_SLOT_TITLES) == set(v.PRICING_SLOTS)


def test_stage_rank_follows_the_funnel() -> None:
    assert [v.stage_rank(s) for s in v.FUNNEL] == list(range(len(v.FUNNEL)))
    assert v.stage_rank("lost") == v.stage_rank("nope") == v.stage_rank(None) == -1


# --- data keyed by a term covers every value of it -----------------------------------------------------------------


@pytest.mark.parametrize(("name", "table", "keys"), [
    ("understand PRODUCT_PATTERNS", PRODUCT_PATTERNS, set(v.PRODUCTS)),
    ("dialog Q_USERS", texts.Q_USERS, set(v.PRODUCT_OR_NONE)),
    ("dialog Q_GOALS", texts.Q_GOALS, set(v.PRODUCT_OR_NONE)),
    ("dialog HOSTING_ECHO", texts.HOSTING_ECHO, set(v.Hosting)),
    ("dialog SLA_ECHO", texts.SLA_ECHO, set(v.Sla)),
    ("dialog DEADLINE_ECHO", texts.DEADLINE_ECHO, set(v.Deadline)),
    ("price PACKAGE_RULES", price_engine.PACKAGE_RULES, set(v.PACKAGES)),
    ("price PACKAGE_INCLUDES", price_engine.PACKAGE_INCLUDES, set(v.PRODUCTS)),
    ("price HOSTING_INCLUDES", price_engine.HOSTING_INCLUDES, set(v.Hosting)),
    ("price SLA_INCLUDES", price_engine.SLA_INCLUDES, set(v.Sla)),
    ("document PRODUCTS", document_context.PRODUCTS, set(v.PRODUCTS)),
    ("document PACKAGE_STAGE_DAYS", document_context.PACKAGE_STAGE_DAYS, set(v.PACKAGES)),
    ("document HOSTING", document_context.HOSTING, set(v.Hosting)),
    ("document SLA", document_context.SLA, set(v.Sla)),
    ("document DEADLINES", document_context.DEADLINES, set(v.Deadline)),
    ("retrieve DOC_TYPES_BY_INTENT", retrieve.DOC_TYPES_BY_INTENT, set(v.KNOWLEDGE_INTENTS)),
])
def test_term_keyed_tables_cover_the_term(name: str, table: dict[str, object], keys: set[str]) -> None:
    assert set(table) == keys, name


def test_package_includes_cover_every_product_and_package() -> None:
    for product in v.PRODUCTS:
        assert set(price_engine.PACKAGE_INCLUDES[product]) == set(v.PACKAGES)
    assert set(price_engine.PACKAGE_RULES["enterprise"].hosting_allowed) == set(v.Hosting)


def test_document_products_take_the_vocabulary_titles() -> None:
    assert {code: p["name"] for code, p in document_context.PRODUCTS.items()} == {
        p: p.info.title for p in v.PRODUCTS}


# --- one definition ------------------------------------------------------------------------------------------------


def _modules() -> list[Path]:
    return [path for package in PRODUCT_PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
            if "migrations" not in path.parts and path != ROOT / "voronka" / "vocabulary.py"]


def _strings(tree: ast.AST) -> list[ast.Constant]:
    """Every string constant but docstrings."""
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [node for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in docstrings]


# «ИИ-Юрист» and «ИИ-Юриста» are the vocabulary's; inflected forms inside sentences («с ИИ-Юристом») are copy.
TITLE = re.compile(r"ИИ-(?:Менеджер|Юрист|Аналитик)а?(?![А-Яа-яЁё])")


def test_product_titles_are_spelled_only_in_the_vocabulary() -> None:
    """Outside voronka/vocabulary.py (templates and knowledge_base/ are not Python and not scanned) no string in the
    product code spells a product's title: the six copies that disagreed were written this way."""
    found = [f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:60]!r}"
             for path in _modules() for node in _strings(ast.parse(path.read_text(encoding="utf-8")))
             if TITLE.search(node.value)]
    assert found == []


ENUMERATIONS = {
    "products": set(v.PRODUCTS), "products or none": set(v.PRODUCT_OR_NONE), "packages": set(v.PACKAGES),
    "pricing slots": set(v.PRICING_SLOTS), "channels": set(v.CHANNELS), "funnel": set(v.FUNNEL),
    "stages": set(v.STAGES), "intents": set(v.INTENTS), "emotions": set(v.EMOTIONS), "hosting": set(v.Hosting),
    "sla": set(v.Sla), "deadline": set(v.Deadline),
}


def test_no_second_list_of_a_term() -> None:
    """No tuple, list or set literal outside the vocabulary enumerates all the values of a term (a dict keyed by
    them is data about each value, checked above for coverage)."""
    found = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Tuple, ast.List, ast.Set)) or not node.elts:
                continue
            if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                continue
            values = {e.value for e in node.elts if isinstance(e, ast.Constant)}
            found += [f"{path.relative_to(ROOT)}:{node.lineno}: {name}" for name, term in ENUMERATIONS.items()
                      if values == term]
    assert found == []
