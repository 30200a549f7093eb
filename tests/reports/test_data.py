"""The scorecard against numbers worked out by hand (tests/reports/helpers.py), on both engines."""

from __future__ import annotations

import math
from datetime import date, datetime

import pytest

from nps.reports.data import Audience, progress, report_data, share_change_significant
from nps.reports.headline import headline
from nps.reports.periods import period_of
from nps.reports.stage import MartsNotReadyError, StageConfigError, period_for_run
from tests.reports.helpers import build_fixture, config_with

NOV = period_of("monthly", date(2026, 11, 1))


@pytest.fixture
def built(warehouse, program_config):
    config = config_with(program_config)
    build_fixture(warehouse, config)
    return warehouse, config


def test_company_scorecard_equals_hand_numbers_and_the_marts(built):
    wh, config = built
    d = report_data(wh, config, NOV)
    nps = d.kpi("nps")
    assert (nps.status, nps.n, nps.current, nps.moe, nps.ci_lower, nps.ci_upper) == ("ok", 52, 23.08, 23.61, -0.97, 44.6)
    assert (nps.previous, nps.prev_n, nps.change, nps.significant, nps.verdict) == (25.0, 40, -1.92, False, "no_significant_change")
    assert (nps.baseline, nps.target, nps.progress_pct) == (45.0, 65.0, -109.6)
    mart = wh.query("SELECT nps, nps_moe, nps_change FROM marts.mart_nps WHERE period_grain = 'month' "
                    "AND dimension = 'all' AND period_start = DATE '2026-11-01'")[0]
    assert (float(mart["nps"]), float(mart["nps_moe"]), float(mart["nps_change"])) == (nps.current, nps.moe, nps.change)
    assert d.nps_band == "healthy"
    # No CSAT or CES answers: unknown, never 0; CES has no target and the report says so.
    assert (d.kpi("csat_pct").status, d.kpi("csat_pct").current) == ("no_data", None)
    assert ("kpi_without_target", {"kpi": "ces_mean", "label": "Customer Effort Score (mean 1-7)", "missing": ["target"]}) in d.gaps
    # Two accounts of three are customers at the start... retention counts 3 < 30: not enough.
    assert (d.kpi("retention_pct").status, d.kpi("retention_pct").n) == ("not_enough", 3)
    # Every invitation was answered: 52 / 52.
    rr = d.kpi("response_rate_pct")
    assert (rr.status, rr.n, rr.current, rr.previous, rr.significant) == ("ok", 52, 100.0, 100.0, False)
    # No cases in the fixture: the follow-up SLA is unknown, never 0.
    assert (d.kpi("followup_sla_pct").status, d.kpi("followup_sla_pct").current) == ("no_data", None)
    assert [(r["dimension_value"], r["responses"], r["nps"]) for r in d.by_industry] == [("Fintech", 12, 100.0), ("SaaS", 40, 0.0)]
    assert [r["nps"] for r in d.nps_trend] == [25.0, 23.08]


def test_segment_variants(built):
    wh, config = built
    fin = report_data(wh, config, NOV, Audience("fintech", "industry", "Fintech"))
    n = fin.kpi("nps")
    assert (n.status, n.n, n.current) == ("not_enough", 12, None)
    assert fin.kpi("retention_pct").note == "company_wide_only"
    retail = report_data(wh, config, NOV, Audience("retail", "industry", "Retail"))
    assert ("segment_no_data", {"dimension": "industry", "value": "Retail"}) in retail.gaps
    assert retail.kpi("nps").status == "no_data" and retail.risks == []
    # The same statistics on the filtered counts: SaaS alone is the November row worked by hand.
    saas = report_data(wh, config, NOV, Audience("saas", "industry", "SaaS"))
    s = saas.kpi("nps")
    assert (s.n, s.current, s.moe, s.ci_lower, s.ci_upper) == (40, 0.0, 26.84, -25.58, 25.58)
    assert s.previous is None and s.verdict == "no_previous"  # SaaS had no answers in October


def test_a_period_with_no_answers_at_all(built):
    wh, config = built
    d = report_data(wh, config, period_of("monthly", date(2026, 12, 1)))
    assert d.gaps[0] == ("no_answers", {})
    assert all(d.kpi(k).status == "no_data" for k in ("nps", "csat_pct", "ces_mean"))
    assert d.nps_band is None


def test_period_for_run(built):
    wh, _ = built
    # A manual run without a logical date: the latest month that ended by the build (2026-12-01 05:30).
    p, why = period_for_run(wh, "monthly", interval_end=None, period_start=None)
    assert (p.key, "latest complete period" in why) == ("2026-11", True)
    with pytest.raises(StageConfigError, match="not the first day of a month"):
        period_for_run(wh, "monthly", interval_end=None, period_start="2026-11-15")
    with pytest.raises(MartsNotReadyError, match="do not cover monthly 2026-12"):
        period_for_run(wh, "monthly", interval_end=None, period_start="2026-12-01")


def test_manual_run_on_empty_marts_fails_at_once(warehouse):
    with pytest.raises(StageConfigError, match="run nps_build_marts first"):
        period_for_run(warehouse, "weekly", interval_end=None, period_start=None)


def test_headline_is_the_report_data(built):
    wh, config = built
    h = headline(wh, config)
    assert h["month"] == date(2026, 11, 1) and h["month_complete"] is True
    assert h["lines"][0] == ("NPS 2026-11: 23.1 ±23.6 (n=52, 95% CI -1.0..44.6); change -1.9: no significant change (noise)")


def test_statistics_helpers():
    # 80 of 100 vs 60 of 100: p~ = 82/104 = 0.78846, 62/104 = 0.59615; difference 0.1923 >
    # 1.96 x sqrt(0.78846 x 0.21154 / 104 + 0.59615 x 0.40385 / 104) = 0.1227 -> significant.
    assert share_change_significant(60, 100, 80, 100) is True
    assert share_change_significant(60, 100, 65, 100) is False
    assert share_change_significant(0, 0, 5, 10) is None
    assert math.isclose(1.96 * math.sqrt(82 / 104 * 22 / 104 / 104 + 62 / 104 * 42 / 104 / 104), 0.1227, abs_tol=1e-4)
    assert progress(45, 65, 55) == 50.0 and progress(45, None, 55) is None and progress(80, 80, 85) is None


def test_manual_run_reports_the_latest_ended_period_even_without_answers(warehouse):
    """No answers at all (a new program): a manual run without a logical date still reports the
    latest period that ended by the marts build, and its cells say there were no answers."""
    from nps.config import load_config
    from nps.demo.generator import generate, load_base
    from nps.marts import rebuild

    load_base(warehouse, generate(load_config(), n_accounts=60))
    rebuild(warehouse, datetime(2026, 11, 27, 16, 31))
    p, why = period_for_run(warehouse, "monthly", interval_end=None, period_start=None)
    assert (p.key, str(p.start), str(p.end)) == ("2026-10", "2026-10-01", "2026-11-01")
    w, _ = period_for_run(warehouse, "weekly", interval_end=None, period_start=None)
    assert (str(w.start), str(w.end)) == ("2026-11-16", "2026-11-23")
