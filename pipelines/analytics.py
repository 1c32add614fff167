"""Sales analytics over a period: the funnel by channel and product with conversion rates, reply time (p50/p95),
automation rate, NPS, revenue by source. Plain SQL over the core tables; a sync ``Session`` in, dicts out.

- Funnel: every lead created in the period counts as a contact; a lead reached a stage when its current stage or
  any ``stage_changed`` event got it there (stages only move forward, a lost lead keeps the stages it reached).
- Reply time: for each client message in the period, the time to the next assistant/manager message in the same
  conversation.
- Automation: among leads that reached booking or payment, the share with no manager involved (no ``handoff`` or
  ``takeover`` event and no message written by a manager).
- NPS: from the ``nps_answers`` table when it exists, else from ``nps_answer`` events (``data.score``).
- Revenue: succeeded payments, by the lead's source tag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from db.models import utcnow
from voronka.vocabulary import CHANNELS, NO_PRODUCT, PRODUCTS, Stage

FUNNEL = (("contact", Stage.NEW, "Контакт"), ("qualified", Stage.QUALIFIED, "Квалифицирован"),
          ("brief_done", Stage.BRIEF_DONE, "Бриф собран"), ("quoted", Stage.QUOTED, "КП / расчёт"),
          ("booked", Stage.BOOKED, "Встреча"), ("paid", Stage.PAID, "Оплата"))
RANK = {stage: i for i, (_, stage, _) in enumerate(FUNNEL)}
CHANNEL_LABELS: dict[str, str] = {channel: channel.info.label for channel in CHANNELS}
PRODUCT_LABELS: dict[str, str] = {**{product: product.info.title for product in PRODUCTS}, NO_PRODUCT: "Не выбран"}


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime

    @classmethod
    def last_days(cls, days: int, *, now: datetime | None = None) -> Period:
        end = now or utcnow()
        return cls(end - timedelta(days=days), end)

    def as_dict(self) -> dict[str, str]:
        return {"from": self.since.isoformat(), "to": self.until.isoformat()}


def _rank_case(expr: str) -> str:
    whens = " ".join(f"WHEN '{stage}' THEN {rank}" for stage, rank in RANK.items())
    return f"(CASE {expr} {whens} ELSE 0 END)"


def _reached_rows(session: Session, period: Period) -> list[Any]:
    """(channel, product, reached rank, leads) for leads created in the period."""
    sql = f"""
        WITH ev AS (
            SELECT lead_id, max({_rank_case("data->>'to'")}) AS r
            FROM events WHERE kind = 'stage_changed' AND lead_id IS NOT NULL GROUP BY lead_id)
        SELECT l.channel, l.product, GREATEST({_rank_case('l.stage')}, COALESCE(ev.r, 0)) AS reached,
               count(*) AS n
        FROM leads l LEFT JOIN ev ON ev.lead_id = l.id
        WHERE l.created_at >= :since AND l.created_at < :until
        GROUP BY 1, 2, 3"""
    return list(session.execute(sa.text(sql), {"since": period.since, "until": period.until}))


def _steps(counts_by_rank: dict[int, int]) -> list[dict[str, Any]]:
    """Cumulative funnel: a lead that reached rank r is counted in every stage up to r."""
    steps: list[dict[str, Any]] = []
    start = sum(counts_by_rank.values())
    previous: int | None = None
    for rank, (key, _, label) in enumerate(FUNNEL):
        count = sum(n for r, n in counts_by_rank.items() if r >= rank)
        steps.append({
            "stage": key, "label": label, "count": count,
            "conversion_from_previous": _ratio(count, previous) if previous is not None else None,
            "conversion_from_start": _ratio(count, start),
        })
        previous = count
    return steps


def _ratio(part: int, whole: int | None) -> float | None:
    if not whole:
        return None
    return round(part / whole, 4)


def funnel(session: Session, period: Period) -> dict[str, Any]:
    rows = _reached_rows(session, period)
    total: dict[int, int] = {}
    by_channel: dict[str, dict[int, int]] = {}
    by_product: dict[str, dict[int, int]] = {}
    for row in rows:
        rank, n = int(row.reached), int(row.n)
        total[rank] = total.get(rank, 0) + n
        for groups, key in ((by_channel, row.channel), (by_product, row.product or NO_PRODUCT)):
            bucket = groups.setdefault(key, {})
            bucket[rank] = bucket.get(rank, 0) + n
    return {
        "stages": _steps(total),
        "by_channel": {k: {"label": CHANNEL_LABELS.get(k, k), "stages": _steps(v)}
                       for k, v in sorted(by_channel.items())},
        "by_product": {k: {"label": PRODUCT_LABELS.get(k, k), "stages": _steps(v)}
                       for k, v in sorted(by_product.items())},
    }


REPLY_SQL = """
    SELECT m.channel, r.role, EXTRACT(EPOCH FROM (r.created_at - m.created_at)) AS seconds
    FROM messages m
    JOIN LATERAL (
        SELECT o.created_at, o.role FROM messages o
        WHERE o.conversation_id = m.conversation_id AND o.direction = 'out' AND o.id > m.id
          AND o.role IN ('assistant', 'manager')
        ORDER BY o.id LIMIT 1) r ON true
    WHERE m.direction = 'in' AND m.created_at >= :since AND m.created_at < :until"""


def percentile(values: list[float], q: float) -> float | None:
    """Linear-interpolated percentile (like PostgreSQL ``percentile_cont``)."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def _summary(values: list[float]) -> dict[str, Any]:
    p50, p95 = percentile(values, 0.5), percentile(values, 0.95)
    return {"count": len(values), "p50": round(p50, 3) if p50 is not None else None,
            "p95": round(p95, 3) if p95 is not None else None}


def reply_times(session: Session, period: Period) -> dict[str, Any]:
    rows = list(session.execute(sa.text(REPLY_SQL), {"since": period.since, "until": period.until}))
    values = [max(0.0, float(r.seconds)) for r in rows]
    by_channel: dict[str, list[float]] = {}
    by_role: dict[str, list[float]] = {}
    for r in rows:
        by_channel.setdefault(r.channel, []).append(max(0.0, float(r.seconds)))
        by_role.setdefault(r.role, []).append(max(0.0, float(r.seconds)))
    return {**_summary(values),
            "by_channel": {k: _summary(v) for k, v in sorted(by_channel.items())},
            "by_role": {k: _summary(v) for k, v in sorted(by_role.items())}}


def automation(session: Session, period: Period) -> dict[str, Any]:
    booked = RANK[Stage.BOOKED]
    sql = f"""
        WITH ev AS (
            SELECT lead_id, max({_rank_case("data->>'to'")}) AS r
            FROM events WHERE kind = 'stage_changed' AND lead_id IS NOT NULL GROUP BY lead_id),
        done AS (
            SELECT l.id FROM leads l LEFT JOIN ev ON ev.lead_id = l.id
            WHERE l.created_at >= :since AND l.created_at < :until
              AND GREATEST({_rank_case('l.stage')}, COALESCE(ev.r, 0)) >= {booked})
        SELECT count(*) AS total,
               count(*) FILTER (WHERE NOT EXISTS (
                    SELECT 1 FROM events e WHERE e.lead_id = done.id AND e.kind IN ('handoff', 'takeover'))
                 AND NOT EXISTS (SELECT 1 FROM messages mm WHERE mm.lead_id = done.id AND mm.role = 'manager'))
               AS automated
        FROM done"""
    row = session.execute(sa.text(sql), {"since": period.since, "until": period.until}).one()
    total, automated = int(row.total), int(row.automated)
    return {"total": total, "automated": automated, "with_manager": total - automated,
            "rate": _ratio(automated, total)}


def clarifications(session: Session, period: Period) -> dict[str, Any]:
    """How often the dialog asked what the client meant instead of guessing (``clarify`` events, pipelines/turn.py),
    against the client messages of the period."""
    row = session.execute(sa.text("""
        SELECT (SELECT count(*) FROM events WHERE kind = 'clarify' AND created_at >= :since AND created_at < :until)
                   AS asked,
               (SELECT count(*) FROM messages WHERE role = 'client' AND created_at >= :since AND created_at < :until)
                   AS messages"""), {"since": period.since, "until": period.until}).one()
    return {"asked": int(row.asked), "messages": int(row.messages), "rate": _ratio(int(row.asked), int(row.messages))}


def _table_exists(session: Session, name: str) -> bool:
    return session.execute(sa.text("SELECT to_regclass(:n)"), {"n": f"public.{name}"}).scalar() is not None


def nps(session: Session, period: Period) -> dict[str, Any]:
    params = {"since": period.since, "until": period.until}
    if _table_exists(session, "nps_answers"):
        source = "nps_answers"
        rows = session.execute(sa.text(
            "SELECT score, count(*) AS n FROM nps_answers WHERE created_at >= :since AND created_at < :until "
            "GROUP BY score"), params)
    else:
        source = "events"
        rows = session.execute(sa.text(
            "SELECT (data->>'score')::int AS score, count(*) AS n FROM events WHERE kind = 'nps_answer' "
            "AND data->>'score' ~ '^[0-9]{1,2}$' AND created_at >= :since AND created_at < :until GROUP BY 1"),
            params)
    distribution = [0] * 11
    for row in rows:
        score = int(row.score)
        if 0 <= score <= 10:
            distribution[score] += int(row.n)
    responses = sum(distribution)
    promoters, passives, detractors = sum(distribution[9:]), sum(distribution[7:9]), sum(distribution[:7])
    score_value = round(100 * (promoters - detractors) / responses, 1) if responses else None
    return {"source": source, "responses": responses, "score": score_value, "distribution": distribution,
            "promoters": promoters, "passives": passives, "detractors": detractors}


def revenue(session: Session, period: Period) -> dict[str, Any]:
    rows = list(session.execute(sa.text("""
        SELECT l.source_tag AS source, l.channel, sum(p.amount) AS amount, count(*) AS payments
        FROM payments p JOIN leads l ON l.id = p.lead_id
        WHERE p.status = 'succeeded' AND COALESCE(p.paid_at, p.created_at) >= :since
          AND COALESCE(p.paid_at, p.created_at) < :until
        GROUP BY 1, 2 ORDER BY 3 DESC"""), {"since": period.since, "until": period.until}))
    total = sum((Decimal(r.amount) for r in rows), Decimal("0"))
    return {"total": f"{total:.2f}", "payments": sum(int(r.payments) for r in rows),
            "by_source": [{"source": r.source, "channel": r.channel, "label": CHANNEL_LABELS.get(r.channel, r.source),
                           "amount": f"{Decimal(r.amount):.2f}", "payments": int(r.payments)} for r in rows]}


def report(session: Session, period: Period) -> dict[str, Any]:
    """Everything the analytics page shows, for one period."""
    return {
        "period": period.as_dict(),
        "funnel": funnel(session, period),
        "reply_time": reply_times(session, period),
        "automation": automation(session, period),
        "nps": nps(session, period),
        "revenue": revenue(session, period),
        "clarifications": clarifications(session, period),
    }
