"""Small helpers for Russian text shared by the pipelines."""

from __future__ import annotations


def plural(n: int, one: str, few: str, many: str) -> str:
    """Russian plural form for ``n``: 1 пользователь, 2 пользователя, 5 пользователей (11–14 take «many»)."""
    n = abs(n)
    if n % 10 == 1 and n % 100 != 11:
        return one
    if 2 <= n % 10 <= 4 and not 12 <= n % 100 <= 14:
        return few
    return many
