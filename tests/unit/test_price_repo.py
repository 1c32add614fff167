"""Pricing repository on a throw-away SQLite database: defaults, edits, history, validation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlalchemy import create_engine
from sqlmodel import Session, SQLModel, select

from db.models_pricing import PriceChange
from db.rate_table import DEFAULT_RATES
from db.repo_pricing import load_rate_table, price_history, seed_defaults, update_coefficient, update_rate
from pipelines.price.engine import calculate, validate_brief
from voronka.errors import NotFound, ValidationError


@pytest.fixture
def pricing_db() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    tables = [SQLModel.metadata.tables[n] for n in ("price_rates", "price_coefficients", "price_changes")]
    SQLModel.metadata.create_all(engine, tables=tables)
    with Session(engine) as s:
        yield s
    engine.dispose()


def test_empty_tables_give_the_defaults(pricing_db: Session) -> None:
    assert load_rate_table(pricing_db) == DEFAULT_RATES


def test_seeded_tables_give_the_same_table(pricing_db: Session) -> None:
    assert seed_defaults(pricing_db) == 9 + 17
    pricing_db.commit()
    assert load_rate_table(pricing_db) == DEFAULT_RATES
    assert seed_defaults(pricing_db) == 0


def test_update_rate_changes_quotes_and_writes_history(pricing_db: Session) -> None:
    update_rate(pricing_db, "ai_manager", "start", Decimal("100000"), changed_by="admin@voronka.ai",
                comment="новый прайс")
    pricing_db.commit()
    table = load_rate_table(pricing_db)
    brief = validate_brief({"product": "ai_manager", "users": 20})
    assert calculate(brief, table).package("start").price == 150_000
    latest = price_history(pricing_db, limit=1)[0]
    assert (latest.target, latest.old_value, latest.new_value) == ("ai_manager/start", 90_000, 100_000)
    assert latest.changed_by == "admin@voronka.ai" and latest.comment == "новый прайс"


def test_update_coefficient(pricing_db: Session) -> None:
    update_coefficient(pricing_db, "hosting", "onprem", "2.7", changed_by="admin")
    pricing_db.commit()
    assert load_rate_table(pricing_db).option("hosting", "onprem").value == Decimal("2.7")
    rows = pricing_db.scalars(select(PriceChange).where(PriceChange.target == "hosting/onprem")).all()
    assert [(r.old_value, r.new_value) for r in rows] == [(None, Decimal("2.5")),
                                                          (Decimal("2.5"), Decimal("2.7"))]


@pytest.mark.parametrize(("call", "error", "field"), [
    (lambda s: update_rate(s, "ai_cook", "start", 1, changed_by="a"), ValidationError, "product"),
    (lambda s: update_rate(s, "ai_lawyer", "gold", 1, changed_by="a"), ValidationError, "package"),
    (lambda s: update_rate(s, "ai_lawyer", "start", 0, changed_by="a"), ValidationError, "base_price"),
    (lambda s: update_rate(s, "ai_lawyer", "start", "много", changed_by="a"), ValidationError, "base_price"),
    (lambda s: update_coefficient(s, "colour", "red", 1, changed_by="a"), ValidationError, "param"),
    (lambda s: update_coefficient(s, "sla", "100", 2, changed_by="a"), NotFound, "key"),
    (lambda s: update_coefficient(s, "sla", "99.9", -1, changed_by="a"), ValidationError, "value"),
])
def test_bad_edits_are_refused(pricing_db: Session, call: Callable[[Session], None], error: type[Exception],
                               field: str) -> None:
    with pytest.raises(error) as info:
        call(pricing_db)
    assert getattr(info.value, "field", None) == field
