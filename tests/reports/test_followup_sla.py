"""The follow-up SLA KPI and the recovery figure in the KPI report come from marts.mart_followups
and marts.mart_loop_recovery: the rendered number equals the mart's (both engines)."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from nps import marts
from nps.config import parse_config
from nps.reports.data import Audience, report_data
from nps.reports.periods import period_of
from nps.reports.render import render_report
from tests.cohorts.helpers import CONFIG
from tests.followups.helpers import FOLLOWUPS, MON, loop_scenario

OCT = period_of("monthly", date(2026, 10, 1))
CFG = parse_config({**CONFIG, "followups": FOLLOWUPS, "reports": {"min_answers": 1}, "themes": {"support": {"en": ["support"]}}})


@pytest.fixture
def built(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", MON.isoformat())
    loop_scenario(warehouse, tmp_path, CFG)
    marts.rebuild(warehouse, datetime(2026, 11, 2), CFG)
    return warehouse


def test_followup_sla_kpi_is_the_marts_share_of_cases_in_time(built):
    d = report_data(built, CFG, OCT)
    k = d.kpi("followup_sla_pct")
    # October's cases: C-S1 (never acted), C-S3, C-S5, C-S6 (in time), C-S7 (late), C-S9 (opened 10-20,
    # due 10-22, never acted: judged by the November build) -> 3 of 6 = 50 %.
    assert (k.status, k.n, k.current, k.previous) == ("ok", 6, 50.0, None)
    assert k.extra == {"cases_opened": 6, "cases_within_sla": 3, "cases_overdue": 2, "recovery": {True: (1, 2), False: (2, 2)}}
    mart = built.query("SELECT SUM(cases_within_sla) AS k, SUM(cases_sla_measured) AS n FROM marts.mart_followups "
                       "WHERE period_grain = 'month' AND period_start = DATE '2026-10-01'")[0]
    assert round(100.0 * int(mart["k"]) / int(mart["n"]), 2) == k.current
    en = render_report(d, "en", [])
    line = next(x for x in en.text.splitlines() if x.startswith("- Follow-up within SLA:"))
    assert "| 50.0% ±" in line and "(n=6)" in line
    assert "[recovered at the next answer: 1/2 (50%) of cases acted on in time, 2/2 (100%) of the others]" in line
    assert "not built yet" not in en.text and "not measured" not in line
    pl = render_report(d, "pl", [])
    pl_line = next(x for x in pl.text.splitlines() if "Follow-up w terminie" in x)
    assert "50,0%" in pl_line and "poprawa przy następnej odpowiedzi: 1/2 (50%) spraw podjętych w terminie" in pl_line


def test_followup_sla_by_industry_and_not_by_other_dimensions(built):
    saas = report_data(built, CFG, OCT, Audience("saas", "industry", "SaaS")).kpi("followup_sla_pct")
    assert (saas.status, saas.current, saas.n) == ("ok", 50.0, 6)
    retail = report_data(built, CFG, OCT, Audience("retail", "industry", "Retail")).kpi("followup_sla_pct")
    assert (retail.status, retail.current) == ("no_data", None)
    smb = report_data(built, CFG, OCT, Audience("smb", "segment", "SMB")).kpi("followup_sla_pct")
    assert (smb.status, smb.note) == ("not_available", "not_by_dimension")


@pytest.mark.parametrize("locale", ["en", "pl"])
def test_qbr_owner_page_lists_the_open_cases(built, locale):
    from nps.reports.qbr import owner_pages

    (page,) = owner_pages(built, CFG, period_of("quarterly", date(2026, 10, 1)), locale=locale)
    assert page.owner == "Alice"
    # Open or in progress at the build: C-S1, C-S3, C-S5, C-S7 (due 10-07), C-S9 (due 10-22); C-S6 resolved.
    assert [c["case_id"] for c in page.accounts[0]["cases"]] == ["C-S1", "C-S3", "C-S5", "C-S7", "C-S9"]
    line = {"en": "  open feedback cases: C-S1 (NPS 3, due 2026-10-07, overdue); C-S3 (CSAT 1, due 2026-10-07); "
                  "C-S5 (NPS 2, due 2026-10-07); C-S7 (NPS 6, due 2026-10-07); C-S9 (NPS 4, due 2026-10-22, overdue)\n",
            "pl": "  otwarte sprawy z ankiet: C-S1 (NPS 3, termin 2026-10-07, po terminie); C-S3 (CSAT 1, termin 2026-10-07); "
                  "C-S5 (NPS 2, termin 2026-10-07); C-S7 (NPS 6, termin 2026-10-07); C-S9 (NPS 4, termin 2026-10-22, "
                  "po terminie)\n"}[locale]
    assert line in page.text
    assert "once follow-ups exist" not in page.html and "gdy powstanie ich obsługa" not in page.html
    assert ("C-S1 (NPS 3, " in page.html) and ('class="high"' in page.html or "color" in page.html)
