"""Page/limit parsing and a paged result."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from voronka.errors import ValidationError

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    per_page: int = 25

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @classmethod
    def parse(cls, query: Mapping[str, str], *, default_per_page: int = 25) -> PageRequest:
        return cls(page=int_param(query, "page", 1, minimum=1, maximum=1_000_000),
                   per_page=int_param(query, "per_page", default_per_page, minimum=1, maximum=MAX_PER_PAGE))

    def result(self, items: list[Any], total: int) -> dict[str, Any]:
        pages = max(1, -(-total // self.per_page))
        return {"items": items, "total": total, "page": self.page, "per_page": self.per_page, "pages": pages}


def int_param(query: Mapping[str, str], name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = query.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValidationError(f"{name}: нужно целое число", field=name) from None
    if not minimum <= value <= maximum:
        raise ValidationError(f"{name}: от {minimum} до {maximum}", field=name)
    return value


def choice_param(query: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    if raw not in allowed:
        raise ValidationError(f"{name}: одно из {', '.join(allowed)}", field=name)
    return raw
