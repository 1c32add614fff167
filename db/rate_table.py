"""The rate table: base rates per product × package and the coefficient bands (spec §6.3), as data.

``DEFAULT_RATES`` is the agency's current price list. The database (``price_rates`` /
``price_coefficients``, see ``db/models_pricing.py``) is seeded from ``default_rate_rows()`` /
``default_coefficient_rows()`` (``db/repo_pricing.py``) and an admin may change it later; ``RateTable.from_rows``
builds the table back from those rows. The knowledge base price documents (``knowledge_base/prices/``) quote the
same numbers, and ``tests/unit/test_kb_content.py`` keeps them equal. The products, packages, parameters and option
keys are the vocabulary's (``voronka/vocabulary.py``).

Bands are inclusive on both ends; the last band has no upper bound (``upper is None``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from voronka.vocabulary import (
    BAND_SLOTS,
    OPTION_KEYS,
    OPTION_SLOTS,
    PACKAGES,
    PRICING_SLOTS,
    PRODUCTS,
    Package,
    PricingSlot,
    Product,
)


@dataclass(frozen=True)
class Band:
    """A numeric range of a parameter (users, integrations) and its coefficient."""

    key: str
    lower: int
    upper: int | None  # inclusive; None: no upper bound
    value: Decimal
    label: str  # how the price documents name the band, e.g. "11–50", "201 и более"

    def contains(self, n: int) -> bool:
        return n >= self.lower and (self.upper is None or n <= self.upper)


@dataclass(frozen=True)
class Option:
    """One value of a categorical parameter (hosting, sla, deadline) and its coefficient."""

    key: str
    value: Decimal
    label: str  # e.g. "On-premise", "99,9%", "Менее 2 недель"


@dataclass(frozen=True)
class RateTable:
    base: Mapping[tuple[str, str], Decimal]  # (product, package) -> base price, roubles
    users: tuple[Band, ...]
    integrations: tuple[Band, ...]
    hosting: tuple[Option, ...]
    sla: tuple[Option, ...]
    deadline: tuple[Option, ...]

    def __post_init__(self) -> None:
        self.check()

    # --- look-ups ------------------------------------------------------------------------------
    def base_price(self, product: str, package: str) -> Decimal:
        return self.base[(product, package)]

    def bands(self, param: str) -> tuple[Band, ...]:
        if param == PricingSlot.USERS:
            return self.users
        if param == PricingSlot.INTEGRATIONS:
            return self.integrations
        raise KeyError(param)

    def band(self, param: str, n: int) -> Band:
        for band in self.bands(param):
            if band.contains(n):
                return band
        raise ValueError(f"no {param} band for {n}")

    def band_index(self, param: str, n: int) -> int:
        bands = self.bands(param)
        return bands.index(self.band(param, n))

    def options(self, param: str) -> tuple[Option, ...]:
        if param == PricingSlot.HOSTING:
            return self.hosting
        if param == PricingSlot.SLA:
            return self.sla
        if param == PricingSlot.DEADLINE:
            return self.deadline
        raise KeyError(param)

    def option(self, param: str, key: str) -> Option:
        for option in self.options(param):
            if option.key == key:
                return option
        raise KeyError(f"{param}={key}")

    # --- consistency ---------------------------------------------------------------------------
    def check(self) -> None:
        """Raise ``ValueError`` when the table cannot price every brief (a gap, a missing rate)."""
        missing = [f"{p}/{k}" for p in PRODUCTS for k in PACKAGES if (p, k) not in self.base]
        if missing:
            raise ValueError(f"rate table has no base price for {', '.join(missing)}")
        for key, price in self.base.items():
            if price <= 0:
                raise ValueError(f"base price for {key} must be positive")
        for param, start in ((PricingSlot.USERS, 1), (PricingSlot.INTEGRATIONS, 0)):
            bands = self.bands(param)
            if not bands:
                raise ValueError(f"rate table has no {param} bands")
            expected = start
            for i, band in enumerate(bands):
                if band.lower != expected:
                    raise ValueError(f"{param} bands must be contiguous from {start}: gap before {band.key}")
                last = i == len(bands) - 1
                if (band.upper is None) != last:
                    raise ValueError(f"only the last {param} band is open-ended")
                if band.upper is not None:
                    if band.upper < band.lower:
                        raise ValueError(f"{param} band {band.key} is empty")
                    expected = band.upper + 1
                if band.value <= 0:
                    raise ValueError(f"{param} band {band.key} must have a positive coefficient")
        for param in OPTION_SLOTS:
            keys = tuple(o.key for o in self.options(param))
            allowed = tuple(map(str, OPTION_KEYS[param]))
            if keys != allowed:
                raise ValueError(f"{param} options must be exactly {allowed} in that order, got {keys}")
            if any(o.value <= 0 for o in self.options(param)):
                raise ValueError(f"{param} coefficients must be positive")

    # --- rows (DB seed / DB load) ----------------------------------------------------------------
    def rate_rows(self) -> list[dict[str, Any]]:
        return [{"product": p.value, "package": k.value, "base_price": self.base[(p, k)]}
                for p in PRODUCTS for k in PACKAGES]

    def coefficient_rows(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for param in BAND_SLOTS:
            for band in self.bands(param):
                rows.append({"param": param.value, "key": band.key, "lower": band.lower, "upper": band.upper,
                             "value": band.value, "label": band.label})
        for param in OPTION_SLOTS:
            for option in self.options(param):
                rows.append({"param": param.value, "key": option.key, "lower": None, "upper": None,
                             "value": option.value, "label": option.label})
        return rows

    @classmethod
    def from_rows(cls, rate_rows: Iterable[Mapping[str, Any]], coefficient_rows: Iterable[Mapping[str, Any]],
                  *, defaults: RateTable | None = None) -> RateTable:
        """Build a table from DB rows (dicts or objects turned into mappings).

        An empty group (no rate rows at all, or no rows for one parameter) falls back to ``defaults``
        (``DEFAULT_RATES`` unless given); a group that is present but incomplete raises ``ValueError``.
        """
        fallback = defaults if defaults is not None else DEFAULT_RATES
        rates = list(rate_rows)
        base: dict[tuple[str, str], Decimal]
        if rates:
            base = {(str(r["product"]), str(r["package"])): Decimal(str(r["base_price"])) for r in rates}
        else:
            base = dict(fallback.base)
        by_param: dict[str, list[Mapping[str, Any]]] = {}
        for row in coefficient_rows:
            by_param.setdefault(str(row["param"]), []).append(row)
        unknown = set(by_param) - set(PRICING_SLOTS)
        if unknown:
            raise ValueError(f"unknown coefficient parameters: {sorted(unknown)}")

        def bands(param: str) -> tuple[Band, ...]:
            rows = by_param.get(param)
            if not rows:
                return fallback.bands(param)
            rows = sorted(rows, key=lambda r: int(r["lower"]))
            return tuple(Band(key=str(r["key"]), lower=int(r["lower"]),
                              upper=None if r["upper"] is None else int(r["upper"]),
                              value=Decimal(str(r["value"])), label=str(r.get("label") or r["key"]))
                         for r in rows)

        def options(param: str) -> tuple[Option, ...]:
            rows = by_param.get(param)
            if not rows:
                return fallback.options(param)
            order = OPTION_KEYS[param]
            rank = {k: i for i, k in enumerate(order)}
            rows = sorted(rows, key=lambda r: rank.get(str(r["key"]), len(order)))
            return tuple(Option(key=str(r["key"]), value=Decimal(str(r["value"])),
                                label=str(r.get("label") or r["key"])) for r in rows)

        return cls(base=base, users=bands("users"), integrations=bands("integrations"),
                   hosting=options("hosting"), sla=options("sla"), deadline=options("deadline"))


def _d(value: str) -> Decimal:
    return Decimal(value)


DEFAULT_RATES = RateTable(
    base={
        (Product.AI_MANAGER, Package.START): _d("90000"),
        (Product.AI_MANAGER, Package.OPTIMUM): _d("180000"),
        (Product.AI_MANAGER, Package.ENTERPRISE): _d("390000"),
        (Product.AI_LAWYER, Package.START): _d("120000"),
        (Product.AI_LAWYER, Package.OPTIMUM): _d("240000"),
        (Product.AI_LAWYER, Package.ENTERPRISE): _d("490000"),
        (Product.AI_ANALYST, Package.START): _d("150000"),
        (Product.AI_ANALYST, Package.OPTIMUM): _d("290000"),
        (Product.AI_ANALYST, Package.ENTERPRISE): _d("590000"),
    },
    users=(
        Band("1-10", 1, 10, _d("1.0"), "1–10"),
        Band("11-50", 11, 50, _d("1.5"), "11–50"),
        Band("51-200", 51, 200, _d("2.0"), "51–200"),
        Band("201+", 201, None, _d("3.0"), "201 и более"),
    ),
    integrations=(
        Band("0-2", 0, 2, _d("1.0"), "0–2"),
        Band("3-5", 3, 5, _d("1.3"), "3–5"),
        Band("6-10", 6, 10, _d("1.7"), "6–10"),
        Band("11+", 11, None, _d("2.2"), "11 и более"),
    ),
    hosting=(
        Option("cloud", _d("1.0"), "Облако"),
        Option("hybrid", _d("1.5"), "Гибрид"),
        Option("onprem", _d("2.5"), "On-premise"),
    ),
    sla=(
        Option("standard", _d("1.0"), "Стандарт"),
        Option("99.5", _d("1.3"), "99,5%"),
        Option("99.9", _d("1.8"), "99,9%"),
    ),
    deadline=(
        Option("standard", _d("1.0"), "Стандартный"),
        Option("lt2w", _d("1.5"), "Менее 2 недель"),
        Option("lt1w", _d("2.0"), "Менее 1 недели"),
    ),
)


def default_rate_rows() -> list[dict[str, Any]]:
    """Seed rows for ``price_rates``: product, package, base_price (Decimal)."""
    return DEFAULT_RATES.rate_rows()


def default_coefficient_rows() -> list[dict[str, Any]]:
    """Seed rows for ``price_coefficients``: param, key, lower, upper (None for options), value, label."""
    return DEFAULT_RATES.coefficient_rows()
