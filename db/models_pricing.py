"""Price list tables (spec §6.3: base rates and coefficients are stored in the DB, changes are journaled).

Seeded from ``db.rate_table.default_rate_rows()`` / ``default_coefficient_rows()``; read back into a
``RateTable`` by ``db.repo_pricing.load_rate_table``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import Column, DateTime, Numeric, UniqueConstraint
from sqlmodel import Field, SQLModel


def _now() -> datetime:
    return datetime.now(UTC)


class PriceRate(SQLModel, table=True):
    """Base price of one package of one product, roubles."""

    __tablename__ = "price_rates"
    __table_args__ = (UniqueConstraint("product", "package", name="uq_price_rates_product_package"),)

    id: int | None = Field(default=None, primary_key=True)
    product: str = Field(max_length=32)  # ai_manager | ai_lawyer | ai_analyst
    package: str = Field(max_length=32)  # start | optimum | enterprise
    base_price: Decimal = Field(sa_type=Numeric(14, 2), nullable=False)
    updated_at: datetime = Field(default_factory=_now,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


class PriceCoefficient(SQLModel, table=True):
    """A band (users, integrations: lower/upper inclusive, upper NULL = open) or an option (hosting, sla,
    deadline)."""

    __tablename__ = "price_coefficients"
    __table_args__ = (UniqueConstraint("param", "key", name="uq_price_coefficients_param_key"),)

    id: int | None = Field(default=None, primary_key=True)
    param: str = Field(max_length=32)  # users | integrations | hosting | sla | deadline
    key: str = Field(max_length=32)  # band key "11-50" / option key "onprem"
    lower: int | None = Field(default=None)
    upper: int | None = Field(default=None)
    value: Decimal = Field(sa_type=Numeric(8, 3), nullable=False)
    label: str = Field(default="", max_length=64)  # Russian name in documents: "11–50", "On-premise"
    updated_at: datetime = Field(default_factory=_now,
                                 sa_column=Column(DateTime(timezone=True), nullable=False))


class PriceChange(SQLModel, table=True):
    """Journal of price list edits: who changed what, when, from which value to which."""

    __tablename__ = "price_changes"

    id: int | None = Field(default=None, primary_key=True)
    changed_at: datetime = Field(default_factory=_now,
                                 sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    changed_by: str = Field(max_length=128)  # admin login / "seed" / "migration"
    entity: str = Field(max_length=16)  # "rate" | "coefficient"
    target: str = Field(max_length=80)  # "ai_manager/start" or "users/11-50"
    old_value: Decimal | None = Field(default=None, sa_type=Numeric(14, 3), nullable=True)
    new_value: Decimal = Field(sa_type=Numeric(14, 3), nullable=False)
    comment: str = Field(default="", max_length=500)
