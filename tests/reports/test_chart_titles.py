"""Chart titles read right for a program's first report (one period) in both languages."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from nps.reports.charts import nps_trend

pytestmark = pytest.mark.unit


def _data(periods: int) -> SimpleNamespace:
    rows = [{"period_start": date(2026, 9 - i, 1), "responses": 12, "nps": 25.0, "nps_ci_lower": None,
             "nps_ci_upper": None} for i in range(periods)]
    return SimpleNamespace(period=SimpleNamespace(grain="month"), min_answers=30, nps_trend=rows,
                           kpi=lambda name: None)


@pytest.mark.parametrize(("periods", "loc", "title"), [
    (1, "en", "NPS in this period, with its 95% interval"),
    (1, "pl", "NPS w tym okresie, z przedziałem 95%"),
    (3, "en", "NPS over the last 3 periods, with its 95% interval"),
    (3, "pl", "NPS w ostatnich 3 okresach, z przedziałem 95%"),
])
def test_the_nps_trend_title_counts_its_periods(periods, loc, title):
    chart = nps_trend(_data(periods), loc)
    assert chart.title == title
    assert chart.alt.startswith(title)  # too few answers to draw: the alt text says so, with the title
