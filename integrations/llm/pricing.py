"""Model prices in USD per one million tokens, and the cost of one call.

OpenRouter model names (``openai/gpt-4o-mini``, ``anthropic/claude-3.5-sonnet``) cost the same as the model
itself.
"""

from __future__ import annotations

from decimal import Decimal

from loguru import logger

_MILLION = Decimal(1_000_000)

# (input, output) USD per 1M tokens. Keys are normalised (see ``normalise_model``); the longest matching
# prefix wins, so ``gpt-4o-mini-2024-07-18`` or ``claude-3-5-sonnet-latest`` find their family.
PRICES_PER_MILLION: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4-1-nano": (Decimal("0.10"), Decimal("0.40")),
    "gpt-4-1-mini": (Decimal("0.40"), Decimal("1.60")),
    "gpt-4-1": (Decimal("2.00"), Decimal("8.00")),
    "claude-3-5-sonnet": (Decimal("3"), Decimal("15")),
    "claude-3-7-sonnet": (Decimal("3"), Decimal("15")),
    "claude-sonnet-4": (Decimal("3"), Decimal("15")),
    "claude-3-5-haiku": (Decimal("0.80"), Decimal("4")),
    "claude-3-haiku": (Decimal("0.25"), Decimal("1.25")),
    "text-embedding-3-small": (Decimal("0.02"), Decimal("0")),
    "text-embedding-3-large": (Decimal("0.13"), Decimal("0")),
    "text-embedding-ada-002": (Decimal("0.10"), Decimal("0")),
}

_warned: set[str] = set()


def normalise_model(model: str) -> str:
    """``anthropic/claude-3.5-sonnet`` → ``claude-3-5-sonnet``; ``OpenAI/GPT-4o-mini`` → ``gpt-4o-mini``."""
    name = model.strip().lower().rsplit("/", 1)[-1]
    return name.replace(".", "-")


def price_of(model: str) -> tuple[Decimal, Decimal] | None:
    """(input, output) USD per 1M tokens, or None for a model missing from the table."""
    name = normalise_model(model)
    best: str | None = None
    for key in PRICES_PER_MILLION:
        if (name == key or name.startswith(key + "-") or name.startswith(key + ":")) and (
            best is None or len(key) > len(best)
        ):
            best = key
    return PRICES_PER_MILLION[best] if best else None


def cost_usd(model: str, input_tokens: int, output_tokens: int) -> Decimal:
    """Cost of one call in USD. An unknown model costs 0 and is logged once, so the table can be completed."""
    price = price_of(model)
    if price is None:
        if model not in _warned:
            _warned.add(model)
            logger.warning("LLM price table has no entry for model {}; its cost is recorded as 0", model)
        return Decimal(0)
    per_in, per_out = price
    return (Decimal(input_tokens) * per_in + Decimal(output_tokens) * per_out) / _MILLION
