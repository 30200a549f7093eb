"""Which data interval a run processes: the one rule every interval-based operator shares.

- ``start``/``end`` given (operator arguments, e.g. a backfill by hand): exactly that interval.
- A run with a data interval (scheduled, backfill, or manual with a logical date): exactly that
  interval, the one the UI shows for the run. For a manual run Airflow derives it from the
  logical date: the schedule's latest complete interval ending at or before it (``2026-10-06T06:00Z``
  on ``0 6 * * *``: ``[10-05 06:00, 10-06 06:00)``), which is the interval the scheduled run of
  10-05 covers, so the work is the same as that run's. A run with a logical date but no interval
  recorded gets the same rule from the cron expression.
- A run without a logical date (Airflow 3's default for "Trigger" in the UI and the REST API):
  the latest complete interval before the run (``run_after``), logged by the caller.
- Without a cron schedule to align to and no usable data interval: ``IntervalError`` saying which
  logical date (or which arguments) to give. Never a guess.

Nothing here imports Airflow; datetimes come back timezone-aware in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

SOURCES = ("arguments", "run", "logical_date", "latest_complete")


class IntervalError(ValueError):
    """No data interval can be derived: the message says what to give instead."""


@dataclass(frozen=True)
class Interval:
    start: datetime
    end: datetime
    source: str  # one of SOURCES

    def describe(self) -> str:
        how = {
            "arguments": "given as arguments",
            "run": "the run's data interval",
            "logical_date": "the latest complete interval ending at the run's logical date",
            "latest_complete": "no logical date: the latest complete interval before the run",
        }[self.source]
        return f"{self.start.isoformat()} .. {self.end.isoformat()} ({how})"

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "source": self.source}


def parse_instant(value: Any, name: str) -> datetime | None:
    """A datetime from a datetime or an ISO 8601 string (a rendered template); naive means UTC."""
    if value is None or (isinstance(value, str) and value.strip() in ("", "None")):
        return None
    if isinstance(value, datetime):
        ts = value
    else:
        try:
            ts = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            raise IntervalError(f"{name}={value!r} is not an ISO 8601 date-time (e.g. 2026-10-05T06:00:00+00:00)") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC)


def _utc(ts: datetime) -> datetime:
    # pendulum's DateTime is a datetime subclass; return a plain datetime in UTC.
    ts = ts.astimezone(UTC)
    return datetime(ts.year, ts.month, ts.day, ts.hour, ts.minute, ts.second, ts.microsecond, tzinfo=UTC)


def _cron_points(cron: str, timezone: str, at: datetime) -> tuple[datetime, datetime, datetime]:
    """(the latest cron point <= at, the next point after it, the point before it), in UTC."""
    from zoneinfo import ZoneInfo

    from croniter import croniter

    local = at.astimezone(ZoneInfo(timezone))
    nxt = croniter(cron, local).get_next(datetime)  # strictly after ``at``
    it = croniter(cron, nxt)
    cur = it.get_prev(datetime)
    prev = it.get_prev(datetime)
    if cur > local:  # cannot happen for a valid expression; keeps the invariant explicit
        raise IntervalError(f"cron {cron!r} gave {cur} after {local}")
    return _utc(cur), _utc(nxt), _utc(prev)


def resolve_interval(
    *,
    cron: str | None = None,
    timezone: str = "UTC",
    logical_date: Any = None,
    data_interval_start: Any = None,
    data_interval_end: Any = None,
    run_after: Any = None,
    run_type: str | None = None,
    start: Any = None,
    end: Any = None,
) -> Interval:
    """The interval a run processes (see the module docstring for the rule)."""
    start_ts, end_ts = parse_instant(start, "data_interval_start"), parse_instant(end, "data_interval_end")
    if (start_ts is None) != (end_ts is None):
        raise IntervalError("give both data_interval_start and data_interval_end, or neither")
    if start_ts is not None and end_ts is not None:
        if end_ts <= start_ts:
            raise IntervalError(f"data interval {start_ts.isoformat()} .. {end_ts.isoformat()} is empty")
        return Interval(_utc(start_ts), _utc(end_ts), "arguments")

    logical = parse_instant(logical_date, "logical_date")
    run_start = parse_instant(data_interval_start, "data_interval_start")
    run_end = parse_instant(data_interval_end, "data_interval_end")
    has_run_interval = run_start is not None and run_end is not None and run_end > run_start

    if logical is not None:
        if has_run_interval:
            return Interval(_utc(run_start), _utc(run_end), "run")
        if cron:
            end_point, _, prev = _cron_points(cron, timezone, logical)
            return Interval(prev, end_point, "logical_date")
        raise IntervalError(
            f"the run's logical date {logical.isoformat()} has no data interval and the schedule has no cron "
            "expression to align it to: pass data_interval_start and data_interval_end"
        )

    after = parse_instant(run_after, "run_after")
    if cron and after is not None:
        end_point, _, prev = _cron_points(cron, timezone, after)
        return Interval(prev, end_point, "latest_complete")
    if cron:
        raise IntervalError(
            "this run has neither a logical date nor a time it ran after: trigger it again with a logical date "
            "(the end of the interval to process, e.g. 2026-10-06T06:00:00+00:00)"
        )
    raise IntervalError(
        "this run has no logical date and its schedule has no data intervals, so there is no interval to "
        "process: trigger it through the REST API with data_interval_start and data_interval_end, or give "
        "the operator data_interval_start and data_interval_end"
    )


def cron_of(timetable: Any) -> tuple[str | None, str]:
    """The cron expression and timezone of a data-interval timetable, else (None, 'UTC').

    Only timetables whose runs cover an interval between two cron points qualify
    (``CronDataIntervalTimetable``); a trigger timetable's runs have no interval to align to.
    """
    if timetable is None or "DataInterval" not in type(timetable).__name__:
        return None, "UTC"
    expression = getattr(timetable, "expression", None) or getattr(timetable, "_expression", None)
    tz = getattr(timetable, "timezone", None) or getattr(timetable, "_timezone", None) or "UTC"
    return (str(expression) if expression else None), str(getattr(tz, "name", tz))
