"""Report periods come from the data interval, never the wall clock."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from nps.reports.periods import PeriodError, period_ending_by, period_of


@pytest.mark.parametrize(("kind", "end", "start", "stop", "key"), [
    pytest.param("weekly", datetime(2026, 9, 14, 6, 30), date(2026, 9, 7), date(2026, 9, 14), "2026-W37", id="monday-run"),
    pytest.param("weekly", datetime(2026, 9, 16, 0, 0), date(2026, 9, 7), date(2026, 9, 14), "2026-W37", id="mid-week-end"),
    pytest.param("monthly", datetime(2026, 10, 1, 6, 30), date(2026, 9, 1), date(2026, 10, 1), "2026-09", id="month"),
    pytest.param("monthly", datetime(2026, 1, 1, 6, 30), date(2025, 12, 1), date(2026, 1, 1), "2025-12", id="year-end"),
    pytest.param("quarterly", datetime(2026, 10, 1, 6, 30), date(2026, 7, 1), date(2026, 10, 1), "2026-Q3", id="quarter"),
    pytest.param("quarterly", datetime(2027, 1, 1, 6, 30), date(2026, 10, 1), date(2027, 1, 1), "2026-Q4", id="q4"),
])
def test_period_ending_by_the_interval_end(kind, end, start, stop, key):
    p = period_ending_by(kind, end)
    assert (p.start, p.end, p.key) == (start, stop, key)


def test_previous_and_trend_and_labels():
    p = period_of("monthly", date(2026, 1, 1))
    assert p.previous().start == date(2025, 12, 1) and p.trend_start(13) == date(2025, 1, 1)
    assert (p.label("en"), p.label("pl")) == ("January 2026", "styczeń 2026")
    w = period_of("weekly", date(2026, 9, 7))
    assert w.label("en") == "week 37 (2026-09-07 – 2026-09-13)" and w.trend_start(13) == date(2026, 6, 15)
    assert period_of("quarterly", date(2026, 10, 1)).previous().key == "2026-Q3"


@pytest.mark.parametrize(("kind", "start", "message"), [
    pytest.param("monthly", date(2026, 9, 2), "2026-09-02 is not the first day of a month", id="mid-month"),
    pytest.param("weekly", date(2026, 9, 8), "the week starts 2026-09-07", id="tuesday"),
    pytest.param("yearly", date(2026, 1, 1), "unknown report kind 'yearly'", id="kind"),
])
def test_bad_period_start_says_why(kind, start, message):
    with pytest.raises(PeriodError, match=message):
        period_of(kind, start)
