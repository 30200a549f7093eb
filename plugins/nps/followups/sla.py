"""The SLA clock of cases: hours counted in the program's time zone, optionally skipping weekends.

A case opened on Friday 16:00 in Warsaw with a 48-hour SLA that skips weekends is due on Tuesday
16:00 (Friday 8 h + Monday 24 h + Tuesday 16 h); opened on a Saturday it starts counting on Monday
00:00. The warehouse keeps naive UTC; the clock converts at the edges.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _to_local(ts: datetime, tz: ZoneInfo) -> datetime:
    return (ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts).astimezone(tz)


def _to_utc(ts: datetime) -> datetime:
    return ts.astimezone(UTC).replace(tzinfo=None)


def _next_midnight(local: datetime, tz: ZoneInfo) -> datetime:
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=tz)


def _skip_weekend(local: datetime, tz: ZoneInfo) -> datetime:
    while local.weekday() >= 5:  # Saturday, Sunday: the clock stands still until Monday 00:00
        local = _next_midnight(local, tz)
    return local


def add_hours(start: datetime, hours: float, timezone: str = "UTC", skip_weekends: bool = False) -> datetime:
    """``start`` (naive UTC) plus ``hours`` on the SLA clock; naive UTC."""
    tz = ZoneInfo(timezone)
    local = _to_local(start, tz)
    remaining = timedelta(hours=hours)
    if not skip_weekends:
        return _to_utc(local + remaining)
    local = _skip_weekend(local, tz)
    while remaining > timedelta(0):
        midnight = _next_midnight(local, tz)
        step = min(remaining, midnight - local)
        remaining -= step
        local = local + step
        if remaining > timedelta(0):
            local = _skip_weekend(midnight, tz)
    return _to_utc(local)


def hours_between(start: datetime, end: datetime, timezone: str = "UTC", skip_weekends: bool = False) -> float:
    """Hours on the SLA clock from ``start`` to ``end`` (naive UTC; negative when end is earlier)."""
    if end < start:
        return -hours_between(end, start, timezone, skip_weekends)
    if not skip_weekends:
        return (end - start).total_seconds() / 3600
    tz = ZoneInfo(timezone)
    local, stop = _to_local(start, tz), _to_local(end, tz)
    total = timedelta(0)
    while local < stop:
        midnight = _next_midnight(local, tz)
        if local.weekday() < 5:
            total += min(midnight, stop) - local
        local = midnight
    return total.total_seconds() / 3600


__all__ = ["add_hours", "hours_between"]
