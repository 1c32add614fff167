"""The pricing engine's result types, for imports that only need the shapes (e.g. under TYPE_CHECKING)."""

from __future__ import annotations

from .engine import Brief, PackageQuote, QuoteResult
from .rates import Band, Option, RateTable

__all__ = ["Band", "Brief", "Option", "PackageQuote", "QuoteResult", "RateTable"]
