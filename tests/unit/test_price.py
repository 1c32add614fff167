"""Pricing engine: bands, package rules, rounding, validation, drivers, chat text and the quote CLI body."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cli.quote import quote_main
from db.rate_table import (
    DEFAULT_RATES,
    RateTable,
    default_coefficient_rows,
    default_rate_rows,
)
from pipelines.price.engine import (
    Brief,
    calculate,
    format_quote_text,
    round_price,
    validate_brief,
)
from voronka.errors import ValidationError

R = DEFAULT_RATES


def quote(**brief: Any) -> Any:
    return calculate(validate_brief({"product": "ai_manager", "users": 5, **brief}), R)


def plain(text: str) -> str:
    """Non-breaking and thin spaces → ordinary spaces, so assertions read naturally."""
    return re.sub(r"[\u00a0\u202f\u2009]", " ", text)


# --- coefficient bands ------------------------------------------------------------------------------

@pytest.mark.parametrize(("users", "coef", "start_price"), [
    (1, 1.0, 90_000), (10, 1.0, 90_000),
    (11, 1.5, 135_000), (50, 1.5, 135_000),
    (51, 2.0, 180_000), (200, 2.0, 180_000),
    (201, 3.0, 270_000), (1_000_000, 3.0, 270_000),
])
def test_users_bands(users: int, coef: float, start_price: int) -> None:
    result = quote(users=users)
    assert result.as_cli_dict()["coefficients"]["users"] == coef
    assert result.package("start").price == start_price


@pytest.mark.parametrize(("integrations", "coef", "start_price"), [
    (0, 1.0, 90_000), (2, 1.0, 90_000),
    (3, 1.3, 117_000), (5, 1.3, 117_000),
    (6, 1.7, 153_000), (10, 1.7, 153_000),
    (11, 2.2, 198_000), (500, 2.2, 198_000),
])
def test_integrations_bands(integrations: int, coef: float, start_price: int) -> None:
    result = quote(integrations=integrations)
    assert result.as_cli_dict()["coefficients"]["integrations"] == coef
    assert result.package("start").price == start_price


@pytest.mark.parametrize(("field", "value", "coef"), [
    ("hosting", "cloud", 1.0), ("hosting", "hybrid", 1.5), ("hosting", "onprem", 2.5),
    ("sla", "standard", 1.0), ("sla", "99.5", 1.3), ("sla", "99.9", 1.8),
    ("deadline", "standard", 1.0), ("deadline", "lt2w", 1.5), ("deadline", "lt1w", 2.0),
])
def test_brief_coefficients_are_the_clients_own(field: str, value: str, coef: float) -> None:
    assert quote(**{field: value}).as_cli_dict()["coefficients"][field] == coef


def test_each_product_has_its_own_base_rates() -> None:
    prices = {p: calculate(validate_brief({"product": p, "users": 1}), R) for p in
              ("ai_manager", "ai_lawyer", "ai_analyst")}
    assert prices["ai_manager"].package("start").price == 90_000
    assert prices["ai_lawyer"].package("start").price == 120_000
    assert prices["ai_analyst"].package("start").price == 150_000
    assert prices["ai_manager"].package("optimum").price == 180_000 * Decimal("1.3")
    assert prices["ai_manager"].package("enterprise").price == 390_000 * Decimal("1.8")


# --- package rules ------------------------------------------------------------------------------------

def test_start_is_always_cloud_and_standard_sla_and_says_so() -> None:
    result = quote(hosting="onprem", sla="99.9")
    start = result.package("start")
    assert start.coefficients["hosting"] == 1 and start.coefficients["sla"] == 1
    assert start.price == 90_000
    notes = " ".join(start.notes)
    assert "Старт только в облаке" in notes
    assert "стандартный SLA" in notes
    assert result.coefficients["hosting"] == Decimal("2.5")  # the brief keeps what the client asked


def test_start_in_the_cloud_has_no_notes() -> None:
    assert quote().package("start").notes == []


def test_optimum_gives_hybrid_instead_of_onprem_and_at_least_sla_995() -> None:
    optimum = quote(hosting="onprem").package("optimum")
    assert (optimum.hosting, optimum.coefficients["hosting"]) == ("hybrid", Decimal("1.5"))
    assert optimum.coefficients["sla"] == Decimal("1.3")
    assert optimum.price == round_price(Decimal(180_000) * Decimal("1.5") * Decimal("1.3"))
    assert any("только в Enterprise" in n for n in optimum.notes)


def test_optimum_keeps_a_higher_sla_and_the_clients_hybrid() -> None:
    optimum = quote(hosting="hybrid", sla="99.9").package("optimum")
    assert optimum.hosting == "hybrid" and optimum.sla == "99.9"
    assert optimum.price == 180_000 * Decimal("1.5") * Decimal("1.8")
    assert optimum.notes == []


def test_enterprise_inherits_onprem_and_always_has_sla_999() -> None:
    enterprise = quote(hosting="onprem").package("enterprise")
    assert enterprise.hosting == "onprem" and enterprise.sla == "99.9"
    assert enterprise.price == 390_000 * Decimal("2.5") * Decimal("1.8")
    assert any(line.startswith("On-premise") for line in enterprise.includes)


def test_users_integrations_deadline_apply_to_every_package() -> None:
    result = quote(users=60, integrations=4, deadline="lt2w")
    for package in result.packages:
        assert package.coefficients["users"] == 2
        assert package.coefficients["integrations"] == Decimal("1.3")
        assert package.coefficients["deadline"] == Decimal("1.5")


briefs = st.fixed_dictionaries({
    "product": st.sampled_from(["ai_manager", "ai_lawyer", "ai_analyst"]),
    "users": st.integers(1, 1_000_000),
    "integrations": st.integers(0, 50),
    "hosting": st.sampled_from(["cloud", "hybrid", "onprem"]),
    "sla": st.sampled_from(["standard", "99.5", "99.9"]),
    "deadline": st.sampled_from(["standard", "lt2w", "lt1w"]),
})


@settings(max_examples=200, deadline=None)
@given(briefs)
def test_prices_are_whole_thousands_and_grow_with_the_package(data: dict[str, Any]) -> None:
    result = calculate(validate_brief(data), R)
    start, optimum, enterprise = result.packages
    assert [p.code for p in result.packages] == ["start", "optimum", "enterprise"]
    assert [p.name for p in result.packages] == ["Старт", "Оптимум", "Enterprise"]
    for p in result.packages:
        assert p.price % 1000 == 0 and p.price > 0
        exact = R.base_price(data["product"], p.code)
        for value in p.coefficients.values():
            exact *= value
        assert abs(p.price - exact) <= 500
    assert start.price < optimum.price < enterprise.price


# --- rounding -----------------------------------------------------------------------------------------

def test_rounding_to_thousands_half_up() -> None:
    assert round_price(Decimal("2500")) == 3000  # half-even would give 2000
    assert round_price(Decimal("2499.99")) == 2000
    assert round_price(Decimal("134500")) == 135000
    # 90 000 × 1.5 × 1.7 = 229 500 → 230 000
    assert quote(users=20, integrations=6).package("start").price == 230_000
    # 180 000 × 1.3 × 1.3 = 304 200 → 304 000
    assert quote(integrations=3).package("optimum").price == 304_000


def test_rounding_uses_the_rate_table_given() -> None:
    base = {key: Decimal(2500) for key in R.base}
    table = replace(R, base=base)
    brief = validate_brief({"product": "ai_lawyer", "users": 3})
    assert calculate(brief, table).package("start").price == 3000


# --- validation ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("data", "field"), [
    ({"users": 5}, "product"),
    ({"product": "none", "users": 5}, "product"),
    ({"product": "ai_designer", "users": 5}, "product"),
    ({"product": 1, "users": 5}, "product"),
    ({"product": "ai_manager"}, "users"),
    ({"product": "ai_manager", "users": 0}, "users"),
    ({"product": "ai_manager", "users": -3}, "users"),
    ({"product": "ai_manager", "users": True}, "users"),
    ({"product": "ai_manager", "users": 20.0}, "users"),
    ({"product": "ai_manager", "users": 2.5}, "users"),
    ({"product": "ai_manager", "users": "20"}, "users"),
    ({"product": "ai_manager", "users": 1_000_001}, "users"),
    ({"product": "ai_manager", "users": 5, "integrations": -1}, "integrations"),
    ({"product": "ai_manager", "users": 5, "integrations": 1.5}, "integrations"),
    ({"product": "ai_manager", "users": 5, "integrations": "3"}, "integrations"),
    ({"product": "ai_manager", "users": 5, "integrations": False}, "integrations"),
    ({"product": "ai_manager", "users": 5, "hosting": "moon"}, "hosting"),
    ({"product": "ai_manager", "users": 5, "hosting": "Cloud"}, "hosting"),
    ({"product": "ai_manager", "users": 5, "sla": "99"}, "sla"),
    ({"product": "ai_manager", "users": 5, "sla": 99.0}, "sla"),
    ({"product": "ai_manager", "users": 5, "deadline": "tomorrow"}, "deadline"),
    ([1, 2], None),
])
def test_invalid_brief_names_the_field(data: Any, field: str | None) -> None:
    with pytest.raises(ValidationError) as info:
        validate_brief(data)
    assert info.value.code == "invalid_brief"
    assert info.value.field == field
    assert re.search("[а-яё]", info.value.message)  # a Russian sentence for the client


def test_defaults_when_absent_or_null() -> None:
    expected = Brief("ai_lawyer", 7, 0, "cloud", "standard", "standard")
    assert validate_brief({"product": "ai_lawyer", "users": 7}) == expected
    brief = validate_brief({"product": "ai_lawyer", "users": 7, "hosting": None, "integrations": None,
                            "industry": "логистика"})
    assert (brief.integrations, brief.hosting) == (0, "cloud")


def test_sla_as_a_json_number_is_accepted() -> None:
    assert validate_brief({"product": "ai_analyst", "users": 2, "sla": 99.9}).sla == "99.9"


# --- output shapes ------------------------------------------------------------------------------------

def test_cli_dict_shape_and_json_types() -> None:
    out = json.loads(json.dumps(quote(users=20, hosting="hybrid").as_cli_dict()))
    assert set(out) == {"coefficients", "packages"}
    assert out["coefficients"] == {"users": 1.5, "integrations": 1.0, "hosting": 1.5, "sla": 1.0,
                                   "deadline": 1.0}
    assert [p["code"] for p in out["packages"]] == ["start", "optimum", "enterprise"]
    for p in out["packages"]:
        assert set(p) == {"code", "name", "price", "currency", "coefficients", "includes"}
        assert isinstance(p["price"], int) and p["currency"] == "RUB"
        assert set(p["coefficients"]) == {"users", "integrations", "hosting", "sla", "deadline"}
        assert all(isinstance(v, float) for v in p["coefficients"].values())
        assert p["includes"] and all(isinstance(s, str) for s in p["includes"])
    assert out["packages"][0]["price"] == 135_000
    assert out["packages"][1]["coefficients"]["hosting"] == 1.5


def test_drivers_say_what_would_lower_the_price() -> None:
    onprem = quote(hosting="onprem").package("enterprise")
    cloud = quote(hosting="cloud").package("enterprise")
    line = next(d for d in onprem.drivers if d.startswith("On-premise"))
    assert "×2,5" in line
    assert f"в облаке было бы {int(cloud.price):,}".replace(",", " ") in plain(line)

    big = quote(users=150).package("start")
    smaller = quote(users=50).package("start")
    line = next(d for d in big.drivers if "пользовател" in d)
    assert line.startswith("150 пользователей ×2,0")
    assert f"при 50 пользователях было бы {int(smaller.price):,}".replace(",", " ") in plain(line)

    urgent = quote(deadline="lt1w").package("optimum")
    line = next(d for d in urgent.drivers if d.startswith("Запуск"))
    two_weeks = quote(deadline="lt2w").package("optimum")
    assert f"{int(two_weeks.price):,}".replace(",", " ") in plain(line)


def test_plain_brief_says_the_price_is_the_base_rate() -> None:
    drivers = quote().package("start").drivers
    assert "90 000 ₽" in plain(drivers[0])
    assert any("базовой ставке" in d for d in drivers)


def test_chat_text_for_avito_has_no_markdown() -> None:
    urgent = format_quote_text(quote(users=20, hosting="onprem", deadline="lt2w"), "avito")
    assert not re.search(r"[*_`#\[\]]", urgent)
    assert "Старт — 203 000 ₽" in plain(urgent)  # 90 000 × 1.5 × 1.5 = 202 500
    text = format_quote_text(quote(users=20, hosting="onprem"), "avito")
    assert not re.search(r"[*_`#\[\]]", text)
    assert "Старт — 135 000 ₽" in plain(text)
    assert "Старт только в облаке" in text
    assert "в облаке было бы" in text


def test_chat_text_is_plain_on_every_channel() -> None:
    for channel in ("telegram", "site"):
        text = format_quote_text(quote(users=20), channel)
        assert "Старт — 135 000 ₽" in plain(text)
        assert "*" not in text and "_" not in text


# --- the quote CLI body -------------------------------------------------------------------------------

def run_cli(text: str, *, jsonl: bool) -> tuple[int, str]:
    out = io.StringIO()
    code = quote_main(io.StringIO(text), out, jsonl=jsonl, rates=R)
    return code, out.getvalue()


def test_cli_single_valid() -> None:
    code, out = run_cli('{"product": "ai_manager", "users": 20, "hosting": "onprem"}', jsonl=False)
    assert code == 0
    answer = json.loads(out)
    assert answer["coefficients"]["hosting"] == 2.5
    assert [p["price"] for p in answer["packages"]] == [
        135_000, int(round_price(Decimal(180_000) * Decimal("1.5") * Decimal("1.5") * Decimal("1.3"))),
        int(round_price(Decimal(390_000) * Decimal("1.5") * Decimal("2.5") * Decimal("1.8")))]


def test_cli_single_invalid_brief_exits_2_and_names_the_field() -> None:
    code, out = run_cli('{"product": "ai_manager", "users": "20"}', jsonl=False)
    assert code == 2
    error = json.loads(out)["error"]
    assert error["code"] == "invalid_brief" and error["field"] == "users" and error["message"]


def test_cli_single_invalid_json_exits_2() -> None:
    code, out = run_cli('{"product": ', jsonl=False)
    assert code == 2
    assert json.loads(out)["error"]["code"] == "invalid_json"


def test_cli_jsonl_answers_every_line_and_exits_0() -> None:
    lines = [
        '{"product": "ai_lawyer", "users": 3}',
        "not json",
        "",
        '{"product": "ai_analyst", "users": 0}',
        '{"product": "ai_analyst", "users": 12, "integrations": 3}',
    ]
    code, out = run_cli("\n".join(lines) + "\n", jsonl=True)
    assert code == 0
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 4
    assert answers[0]["packages"][0]["price"] == 120_000
    assert answers[1]["error"]["code"] == "invalid_json"
    assert (answers[2]["error"]["code"], answers[2]["error"]["field"]) == ("invalid_brief", "users")
    assert answers[3]["packages"][0]["price"] == 293_000  # 150 000 × 1.5 × 1.3 = 292 500 → half up


# --- rate table -------------------------------------------------------------------------------------

def test_rate_table_round_trips_through_rows() -> None:
    assert RateTable.from_rows(default_rate_rows(), default_coefficient_rows()) == R
    assert RateTable.from_rows([], []) == R
    assert len(default_rate_rows()) == 9
    assert {r["param"] for r in default_coefficient_rows()} == {"users", "integrations", "hosting", "sla",
                                                                "deadline"}


def test_rate_table_from_db_rows_changes_the_price() -> None:
    rows = default_rate_rows()
    for row in rows:
        if (row["product"], row["package"]) == ("ai_manager", "start"):
            row["base_price"] = Decimal("100000.00")
    table = RateTable.from_rows(rows, default_coefficient_rows())
    brief = validate_brief({"product": "ai_manager", "users": 20})
    assert calculate(brief, table).package("start").price == 150_000


def test_rate_table_with_a_gap_is_refused() -> None:
    rows = [r for r in default_coefficient_rows() if r["key"] != "11-50"]
    with pytest.raises(ValueError, match="users"):
        RateTable.from_rows(default_rate_rows(), rows)
    with pytest.raises(ValueError, match="ai_lawyer"):
        RateTable.from_rows([r for r in default_rate_rows() if r["product"] != "ai_lawyer"], [])


def test_db_scaled_numbers_quote_exactly_like_the_defaults() -> None:
    """Numeric(14,2) / Numeric(8,3) columns give 90000.00 and 1.500; prices and texts must not change."""
    rates = [{**r, "base_price": Decimal(r["base_price"]).quantize(Decimal("0.01"))} for r in default_rate_rows()]
    coefficients = [{**r, "value": Decimal(r["value"]).quantize(Decimal("0.001"))}
                    for r in default_coefficient_rows()]
    table = RateTable.from_rows(rates, coefficients)
    brief = validate_brief({"product": "ai_manager", "users": 20, "integrations": 7, "hosting": "onprem",
                            "deadline": "lt1w"})
    from_db, default = calculate(brief, table), calculate(brief, R)
    assert from_db.as_cli_dict() == default.as_cli_dict()
    assert format_quote_text(from_db, "avito") == format_quote_text(default, "avito")
    assert "×2,5" in format_quote_text(from_db, "avito")
