"""The pricing engine's result types, for imports that only need the shapes (e.g. under TYPE_CHECKING)."""

from __future__ import annotations

from db.rate_table import Band, Option, RateTable

from .engine import Brief, PackageQuote, QuoteResult

__all__ = ["Band", "Brief", "Option", "PackageQuote", "QuoteResult", "RateTable"]
