"""nps.intervals: which data interval a run processes (hand-computed cases)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from nps.intervals import IntervalError, cron_of, resolve_interval

DAILY = "0 6 * * *"


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "start", "end", "source"),
    [
        pytest.param({"logical_date": utc(2026, 10, 5, 6), "data_interval_start": utc(2026, 10, 5, 6),
                      "data_interval_end": utc(2026, 10, 6, 6), "run_type": "scheduled"},
                     utc(2026, 10, 5, 6), utc(2026, 10, 6, 6), "run", id="scheduled-run-uses-its-interval"),
        pytest.param({"logical_date": utc(2026, 10, 6, 6), "data_interval_start": utc(2026, 10, 5, 6),
                      "data_interval_end": utc(2026, 10, 6, 6), "run_type": "DagRunType.MANUAL"},
                     utc(2026, 10, 5, 6), utc(2026, 10, 6, 6), "run", id="manual-run-uses-the-interval-airflow-shows"),
        pytest.param({"logical_date": utc(2026, 10, 6, 6), "run_type": "manual"},
                     utc(2026, 10, 5, 6), utc(2026, 10, 6, 6), "logical_date", id="manual-aligned-logical-date-no-interval"),
        pytest.param({"logical_date": "2026-10-05T05:59:00Z", "run_type": "manual"},
                     utc(2026, 10, 3, 6), utc(2026, 10, 4, 6), "logical_date", id="manual-date-inside-an-interval"),
        pytest.param({"logical_date": None, "run_after": utc(2026, 10, 6, 7, 30)},
                     utc(2026, 10, 5, 6), utc(2026, 10, 6, 6), "latest_complete", id="no-logical-date"),
        pytest.param({"logical_date": None, "run_after": utc(2026, 10, 6, 6)},
                     utc(2026, 10, 5, 6), utc(2026, 10, 6, 6), "latest_complete", id="no-logical-date-at-the-boundary"),
        pytest.param({"logical_date": None, "run_after": utc(2026, 10, 6, 5, 59)},
                     utc(2026, 10, 4, 6), utc(2026, 10, 5, 6), "latest_complete", id="no-logical-date-before-the-boundary"),
        pytest.param({"start": "2026-10-01", "end": "2026-10-03T00:00:00+02:00", "logical_date": utc(2026, 10, 5, 6)},
                     utc(2026, 10, 1), utc(2026, 10, 2, 22), "arguments", id="arguments-win"),
    ],
)
def test_resolve(kwargs, start, end, source):
    got = resolve_interval(cron=DAILY, **kwargs)
    assert (got.start, got.end, got.source) == (start, end, source)
    assert got.as_dict() == {"start": start.isoformat(), "end": end.isoformat(), "source": source}


def test_local_time_schedule_across_the_dst_change():
    # 07:00 Warsaw: 05:00 UTC in summer time, 06:00 UTC after the change on 2026-10-25 (a 25-hour interval).
    got = resolve_interval(cron="0 7 * * *", timezone="Europe/Warsaw",
                           logical_date=datetime(2026, 10, 25, 7, tzinfo=timezone(timedelta(hours=1))), run_type="manual")
    assert (got.start, got.end) == (utc(2026, 10, 24, 5), utc(2026, 10, 25, 6))


def test_without_a_schedule_a_run_without_logical_date_is_refused_with_what_to_do():
    with pytest.raises(IntervalError, match=r"no interval to process: trigger it through the REST API with data_interval_start"):
        resolve_interval(cron=None, run_after=utc(2026, 10, 6, 7))


def test_a_trigger_timetable_run_with_a_logical_date_needs_arguments():
    with pytest.raises(IntervalError, match="pass data_interval_start and data_interval_end"):
        resolve_interval(cron=None, logical_date=utc(2026, 10, 6, 7), data_interval_start=utc(2026, 10, 6, 7),
                         data_interval_end=utc(2026, 10, 6, 7), run_type="manual")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        pytest.param({"start": "2026-10-01"}, "give both", id="one-bound"),
        pytest.param({"start": "2026-10-02", "end": "2026-10-01"}, "is empty", id="empty"),
        pytest.param({"start": "yesterday", "end": "2026-10-01"}, "not an ISO 8601", id="not-a-date"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(IntervalError, match=message):
        resolve_interval(cron=DAILY, **kwargs)


def test_cron_of_sdk_timetables():
    from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable

    assert cron_of(CronDataIntervalTimetable("0 6 * * *", timezone="UTC")) == ("0 6 * * *", "UTC")
    assert cron_of(CronDataIntervalTimetable("0 7 * * *", timezone="Europe/Warsaw")) == ("0 7 * * *", "Europe/Warsaw")
    assert cron_of(CronTriggerTimetable("*/15 * * * *", timezone="UTC")) == (None, "UTC")
    assert cron_of(None) == (None, "UTC")
