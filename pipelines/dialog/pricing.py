"""The dialog's one adapter to the pricing engine (``pipelines.price``).

Every price the dialog shows comes through here, computed by the engine from the rate table: the dialog never
writes a number of roubles itself.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from db.rate_table import RateTable
from pipelines.price.engine import QuoteResult, calculate, format_quote_text, format_rub, validate_brief
from voronka.vocabulary import PRICING_SLOTS

# The cheapest brief: what «от … ₽» means (one user, no integrations, cloud, standard SLA and deadline).
_CHEAPEST: dict[str, Any] = {"users": 1, "integrations": 0, "hosting": "cloud", "sla": "standard",
                             "deadline": "standard"}


def compute_quote(brief: dict[str, Any], rates: RateTable) -> QuoteResult:
    """Price the three packages for the brief's product and pricing slots (all must be known)."""
    data = {key: brief.get(key) for key in ("product", *PRICING_SLOTS)}
    return calculate(validate_brief(data), rates)


def quote_text(result: QuoteResult, channel: str) -> str:
    return format_quote_text(result, channel)


def package_prices(result: QuoteResult) -> dict[str, int]:
    """{"start": 90000, "optimum": ..., "enterprise": ...} in whole roubles."""
    return {package.code: int(package.price) for package in result.packages}


def start_price(product: str, rates: RateTable) -> int:
    """The lowest price of a product: the Старт package for the cheapest brief."""
    result = calculate(validate_brief({"product": product, **_CHEAPEST}), rates)
    return int(result.package("start").price)


def rub(amount: int | Decimal) -> str:
    """«135 000 ₽», the engine's own money format."""
    return format_rub(Decimal(amount))
