"""Free consultation slots from busy intervals: pure functions, no I/O (Google Calendar gives busy)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


def parse_work_hours(value: str) -> tuple[time, time]:
    """``"10:00-19:00"`` → (10:00, 19:00). Raises ``ValueError`` for anything else or an empty range."""
    try:
        start_text, end_text = (part.strip() for part in value.split("-"))
        start, end = time.fromisoformat(start_text), time.fromisoformat(end_text)
    except ValueError as exc:
        raise ValueError(f"рабочие часы должны выглядеть как 10:00-19:00, получено {value!r}") from exc
    if start >= end:
        raise ValueError(f"начало рабочего дня должно быть раньше конца: {value!r}")
    return start, end


def overlaps(start: datetime, end: datetime, busy: Iterable[Interval]) -> bool:
    """Whether [start, end) intersects any busy interval (touching ends do not count)."""
    return any(start < b_end and b_start < end for b_start, b_end in busy)


def free_slots(
    busy: Iterable[Interval],
    *,
    now: datetime,
    days: int,
    work_days: Iterable[int | str],
    work_hours: str = "10:00-19:00",
    slot_minutes: int,
    min_notice_hours: float,
    tz: str = "Europe/Moscow",
    limit: int = 5,
) -> list[datetime]:
    """The first ``limit`` free slot starts (aware, in ``tz``) within ``days`` calendar days from today.

    Slots sit on a grid from the start of the working day, lie fully inside working hours on ISO
    ``work_days`` (1 = Monday), start no earlier than ``now + min_notice_hours`` and never overlap ``busy``.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if slot_minutes <= 0 or days < 0 or limit < 0:
        raise ValueError("slot_minutes must be positive, days and limit not negative")
    zone = ZoneInfo(tz)
    day_start, day_end = parse_work_hours(work_hours)
    allowed_days = {int(d) for d in work_days}
    busy_list = sorted(busy)
    earliest = now + timedelta(hours=min_notice_hours)
    step = timedelta(minutes=slot_minutes)
    today = now.astimezone(zone).date()
    result: list[datetime] = []
    for offset in range(days):
        day: date = today + timedelta(days=offset)
        if day.isoweekday() not in allowed_days:
            continue
        start = datetime.combine(day, day_start, tzinfo=zone)
        close = datetime.combine(day, day_end, tzinfo=zone)
        while start + step <= close and len(result) < limit:
            if start >= earliest and not overlaps(start, start + step, busy_list):
                result.append(start)
            start += step
        if len(result) >= limit:
            break
    return result
