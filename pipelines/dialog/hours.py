"""When a manager will answer: within working hours (Mon–Fri, Europe/Moscow) or the next working morning."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from . import texts

MOSCOW = ZoneInfo("Europe/Moscow")
WORK_DAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday


def parse_hours(spec: str) -> tuple[time, time]:
    """"10:00-19:00" -> (10:00, 19:00); raises ValueError on a malformed or empty range."""
    try:
        start_text, end_text = (part.strip() for part in spec.replace("–", "-").split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"working hours must look like 10:00-19:00, got {spec!r}") from exc
    if start >= end:
        raise ValueError(f"working hours must end after they start, got {spec!r}")
    return start, end


def is_working_time(now: datetime, working_hours: str) -> bool:
    local = now.astimezone(MOSCOW)
    start, end = parse_hours(working_hours)
    return local.weekday() in WORK_DAYS and start <= local.time() < end


def manager_eta(now: datetime, working_hours: str) -> str:
    """«Менеджер ответит в течение 15 минут.» / «… завтра с 10:00.» / «… в понедельник с 10:00.»"""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if is_working_time(now, working_hours):
        return texts.HANDOFF_WHEN_NOW
    local = now.astimezone(MOSCOW)
    start, _ = parse_hours(working_hours)
    day = local.date()
    if not (local.weekday() in WORK_DAYS and local.time() < start):
        day += timedelta(days=1)
        while day.weekday() not in WORK_DAYS:
            day += timedelta(days=1)
    delta = (day - local.date()).days
    when = "сегодня" if delta == 0 else "завтра" if delta == 1 else texts.WEEKDAY_ACC[day.weekday()]
    return texts.HANDOFF_WHEN_LATER.format(when=when, start=start.strftime("%H:%M"))
