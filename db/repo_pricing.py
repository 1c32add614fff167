"""Price list repository: the rate table from the DB, edits with a history row.

Functions take a synchronous SQLModel/SQLAlchemy ``Session``; from async code call them through
``await async_session.run_sync(load_rate_table)``. They flush but never commit: the caller owns the
transaction.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from loguru import logger
from sqlalchemy.orm import Session
from sqlmodel import select

from voronka.errors import NotFound, ValidationError
from voronka.vocabulary import PACKAGES, PRICING_SLOTS, PRODUCTS

from .models_pricing import PriceChange, PriceCoefficient, PriceRate
from .rate_table import DEFAULT_RATES, RateTable


def _rate_rows(session: Session) -> list[PriceRate]:
    return list(session.scalars(select(PriceRate)))


def _coefficient_rows(session: Session) -> list[PriceCoefficient]:
    return list(session.scalars(select(PriceCoefficient)))


def load_rate_table(session: Session) -> RateTable:
    """The current rate table; the built-in defaults for whatever the tables do not hold (empty tables)."""
    rates = [{"product": r.product, "package": r.package, "base_price": r.base_price}
             for r in _rate_rows(session)]
    coefficients: list[dict[str, Any]] = [
        {"param": c.param, "key": c.key, "lower": c.lower, "upper": c.upper, "value": c.value,
         "label": c.label}
        for c in _coefficient_rows(session)
    ]
    if not rates and not coefficients:
        return DEFAULT_RATES
    return RateTable.from_rows(rates, coefficients)


def seed_defaults(session: Session, *, changed_by: str = "seed") -> int:
    """Insert the missing default rows (by product+package, param+key); return how many were added."""
    have_rates = {(r.product, r.package) for r in _rate_rows(session)}
    have_coefficients = {(c.param, c.key) for c in _coefficient_rows(session)}
    added = 0
    for row in DEFAULT_RATES.rate_rows():
        if (row["product"], row["package"]) not in have_rates:
            session.add(PriceRate(**row))
            target = f"{row['product']}/{row['package']}"
            session.add(PriceChange(changed_by=changed_by, entity="rate", target=target,
                                    old_value=None, new_value=row["base_price"], comment="default"))
            added += 1
    for row in DEFAULT_RATES.coefficient_rows():
        if (row["param"], row["key"]) not in have_coefficients:
            session.add(PriceCoefficient(**row))
            target = f"{row['param']}/{row['key']}"
            session.add(PriceChange(changed_by=changed_by, entity="coefficient", target=target,
                                    old_value=None, new_value=row["value"], comment="default"))
            added += 1
    session.flush()
    return added


def _positive(value: Decimal | int | str, field: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except ArithmeticError as exc:
        raise ValidationError("Значение должно быть числом.", field=field) from exc
    if not number.is_finite() or number <= 0:
        raise ValidationError("Значение должно быть больше нуля.", field=field)
    return number


def update_rate(session: Session, product: str, package: str, base_price: Decimal | int | str, *,
                changed_by: str, comment: str = "") -> None:
    """Set the base price of one package and journal the change (seeds missing default rows first)."""
    if product not in PRODUCTS:
        raise ValidationError("Неизвестный продукт.", field="product")
    if package not in PACKAGES:
        raise ValidationError("Неизвестный пакет.", field="package")
    price = _positive(base_price, "base_price")
    seed_defaults(session, changed_by=changed_by)
    row = session.scalars(select(PriceRate).where(PriceRate.product == product,
                                                  PriceRate.package == package)).one()
    old = row.base_price
    row.base_price = price
    session.add(row)
    session.add(PriceChange(changed_by=changed_by, entity="rate", target=f"{product}/{package}",
                            old_value=old, new_value=price, comment=comment))
    session.flush()
    logger.info("price rate {}/{} changed", product, package)


def update_coefficient(session: Session, param: str, key: str, value: Decimal | int | str, *,
                       changed_by: str, comment: str = "") -> None:
    """Set one coefficient (band bounds are not editable here) and journal the change."""
    if param not in PRICING_SLOTS:
        raise ValidationError("Неизвестный параметр.", field="param")
    number = _positive(value, "value")
    seed_defaults(session, changed_by=changed_by)
    row = session.scalars(select(PriceCoefficient).where(PriceCoefficient.param == param,
                                                         PriceCoefficient.key == key)).one_or_none()
    if row is None:
        raise NotFound("Нет такого коэффициента.", field="key")
    old = row.value
    row.value = number
    session.add(row)
    session.add(PriceChange(changed_by=changed_by, entity="coefficient", target=f"{param}/{key}",
                            old_value=old, new_value=number, comment=comment))
    session.flush()
    logger.info("price coefficient {}/{} changed", param, key)


def price_history(session: Session, *, limit: int = 100) -> list[PriceChange]:
    """Latest changes first."""
    statement = select(PriceChange).order_by(PriceChange.changed_at.desc(),  # type: ignore[attr-defined]
                                             PriceChange.id.desc()).limit(limit)  # type: ignore[union-attr]
    return list(session.scalars(statement))
