"""Report periods: which week, month or quarter a report covers, derived from the run's data
interval (never the wall clock).

A report of kind ``weekly`` / ``monthly`` / ``quarterly`` covers one calendar period of grain
``week`` (ISO week, Monday first) / ``month`` / ``quarter``, the grains of the marts. The run
whose data interval ends at ``end`` reports the latest period that had ended by then: the period
whose end is ``end``'s date truncated to the grain. So the weekly run of Monday 06:30 reports the
week that ended at Monday 00:00, and a backfill of any past interval reports that interval's
period again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from nps.config import REPORT_KINDS

_MONTHS_EN = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
              "October", "November", "December")
_MONTHS_PL = ("styczeń", "luty", "marzec", "kwiecień", "maj", "czerwiec", "lipiec", "sierpień", "wrzesień",
              "październik", "listopad", "grudzień")


class PeriodError(ValueError):
    """A period cannot be derived (unknown kind, or no complete period in the marts)."""


def truncate(day: date, grain: str) -> date:
    """The first day of the ``grain`` period that contains ``day``."""
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
    raise PeriodError(f"unknown period grain {grain!r}")


def shift(start: date, grain: str, n: int) -> date:
    """The start of the period ``n`` periods after (negative: before) the one starting ``start``."""
    if grain == "week":
        return start + timedelta(days=7 * n)
    months = {"month": 1, "quarter": 3}[grain] * n
    m = start.month - 1 + months
    return date(start.year + m // 12, m % 12 + 1, 1)


@dataclass(frozen=True)
class Period:
    kind: str   # weekly, monthly, quarterly
    start: date
    end: date   # exclusive

    @property
    def grain(self) -> str:
        return REPORT_KINDS[self.kind]

    @property
    def key(self) -> str:
        """A stable name, e.g. ``2026-W41``, ``2026-10``, ``2026-Q4`` (send keys, archive folders)."""
        if self.grain == "week":
            iso = self.start.isocalendar()
            return f"{iso.year}-W{iso.week:02d}"
        if self.grain == "month":
            return f"{self.start:%Y-%m}"
        return f"{self.start.year}-Q{(self.start.month - 1) // 3 + 1}"

    def label(self, locale: str = "en") -> str:
        """How the report names the period to people."""
        last = self.end - timedelta(days=1)
        if self.grain == "week":
            iso = self.start.isocalendar()
            word = "tydzień" if locale == "pl" else "week"
            return f"{word} {iso.week} ({self.start:%Y-%m-%d} – {last:%Y-%m-%d})"
        if self.grain == "month":
            names = _MONTHS_PL if locale == "pl" else _MONTHS_EN
            return f"{names[self.start.month - 1]} {self.start.year}"
        return f"Q{(self.start.month - 1) // 3 + 1} {self.start.year}"

    def previous(self) -> Period:
        return Period(self.kind, shift(self.start, self.grain, -1), self.start)

    def trend_start(self, periods: int) -> date:
        """The first period start of a trend of ``periods`` periods ending with this one."""
        return shift(self.start, self.grain, -(periods - 1))


def period_of(kind: str, start: date) -> Period:
    """The period of ``kind`` starting on ``start`` (which must be a period start)."""
    if kind not in REPORT_KINDS:
        raise PeriodError(f"unknown report kind {kind!r}; use one of {', '.join(REPORT_KINDS)}")
    grain = REPORT_KINDS[kind]
    if truncate(start, grain) != start:
        raise PeriodError(f"{start} is not the first day of a {grain} (the {grain} starts {truncate(start, grain)})")
    return Period(kind, start, shift(start, grain, 1))


def period_ending_by(kind: str, end: datetime | date) -> Period:
    """The latest ``kind`` period that had ended by ``end`` (a data interval's end)."""
    if kind not in REPORT_KINDS:
        raise PeriodError(f"unknown report kind {kind!r}; use one of {', '.join(REPORT_KINDS)}")
    day = end.date() if isinstance(end, datetime) else end
    grain = REPORT_KINDS[kind]
    period_end = truncate(day, grain)
    return Period(kind, shift(period_end, grain, -1), period_end)
