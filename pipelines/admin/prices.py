"""The price list in the admin: the rates and coefficients as JSON-ready rows, their history, one change."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlmodel import Session

from db.repo_pricing import load_rate_table, price_history, update_coefficient, update_rate


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (f"{v}" if isinstance(v, Decimal) else v) for k, v in row.items()}


def price_list(session: Session) -> dict[str, Any]:
    table = load_rate_table(session)
    return {"rates": [_plain(row) for row in table.rate_rows()],
            "coefficients": [_plain(row) for row in table.coefficient_rows()]}


def history(session: Session, limit: int) -> list[dict[str, Any]]:
    return [{"id": c.id, "changed_at": c.changed_at.isoformat(), "changed_by": c.changed_by, "entity": c.entity,
             "target": c.target, "old_value": None if c.old_value is None else f"{c.old_value}",
             "new_value": f"{c.new_value}", "comment": c.comment} for c in price_history(session, limit=limit)]


def change_price(session: Session, entity: str, a: str, b: str, value: str, *,
                 by: str, comment: str) -> None:
    """A rate (product, package → base price) or a coefficient (parameter, key → value), with its history row."""
    if entity == "rate":
        update_rate(session, a, b, value, changed_by=by, comment=comment)
    else:
        update_coefficient(session, a, b, value, changed_by=by, comment=comment)
