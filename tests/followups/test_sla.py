"""The SLA clock: hours in the program's time zone, weekends skipped when configured."""

from __future__ import annotations

from datetime import datetime

import pytest

from nps.followups.sla import add_hours, hours_between

WAW = "Europe/Warsaw"


@pytest.mark.parametrize(("start", "hours", "skip", "due"), [
    # Fri 2026-10-02 16:00 Warsaw (14:00 UTC, CEST +2): 8 h Friday + 24 h Monday + 16 h Tuesday.
    pytest.param(datetime(2026, 10, 2, 14), 48, True, datetime(2026, 10, 6, 14), id="friday-over-weekend"),
    pytest.param(datetime(2026, 10, 2, 14), 48, False, datetime(2026, 10, 4, 14), id="friday-clock-hours"),
    # Sat 2026-10-03 10:00 Warsaw: the clock starts Monday 00:00 Warsaw (Sun 22:00 UTC) -> Tue 24:00.
    pytest.param(datetime(2026, 10, 3, 8), 48, True, datetime(2026, 10, 6, 22), id="opened-on-saturday"),
    # Mon 09:00 Warsaw + 24 h stays on weekdays.
    pytest.param(datetime(2026, 10, 5, 7), 24, True, datetime(2026, 10, 6, 7), id="weekday"),
    # Fri 2026-10-23 20:00 Warsaw (18:00 UTC, CEST); DST ends Sun 10-25: Monday is CET (+1).
    # 4 h Friday + 20 h Monday = Mon 20:00 CET = 19:00 UTC.
    pytest.param(datetime(2026, 10, 23, 18), 24, True, datetime(2026, 10, 26, 19), id="weekend-with-dst-change"),
    pytest.param(datetime(2026, 10, 2, 14), 0, True, datetime(2026, 10, 2, 14), id="zero-hours"),
])
def test_add_hours(start, hours, skip, due):
    assert add_hours(start, hours, WAW, skip) == due


def test_hours_between_skips_the_weekend():
    # Fri 16:00 Warsaw to Tue 16:00 Warsaw: 8 + 24 + 16 = 48 SLA hours (96 clock hours).
    assert hours_between(datetime(2026, 10, 2, 14), datetime(2026, 10, 6, 14), WAW, True) == 48
    assert hours_between(datetime(2026, 10, 2, 14), datetime(2026, 10, 6, 14), WAW, False) == 96
    # Saturday to Sunday counts nothing.
    assert hours_between(datetime(2026, 10, 3, 8), datetime(2026, 10, 4, 20), WAW, True) == 0
    assert hours_between(datetime(2026, 10, 6, 14), datetime(2026, 10, 2, 14), WAW, True) == -48
