"""The closing-the-loop marts in the write-audit-publish build, on both warehouses:
marts.fct_followups (per answer), the aggregates marts.mart_followups and marts.mart_loop_recovery
(hand-computed counts, shares, medians and 90th percentiles) and mart_churn_risk.overdue_detractor_case."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from nps import marts
from nps.config import parse_config
from tests.cohorts.helpers import CONFIG
from tests.followups.helpers import FOLLOWUPS, MON, loop_scenario

AS_OF = datetime(2026, 10, 21)
CFG = parse_config({**CONFIG, "followups": FOLLOWUPS, "themes": {"support": {"en": ["support"]}}})
KEY = ("period_grain", "period_start", "survey_type", "category")


@pytest.fixture
def built(warehouse, tmp_path, monkeypatch):
    """The scenario of tests.followups.helpers.loop_scenario, built as of 2026-10-21."""
    monkeypatch.setenv("NPS_FAKE_NOW", MON.isoformat())
    loop_scenario(warehouse, tmp_path, CFG)
    marts.rebuild(warehouse, AS_OF, CFG)
    return warehouse


def _rows(wh, mart: str, grain: str) -> dict[tuple, dict]:
    rows = wh.query(f"SELECT * FROM marts.{mart} WHERE period_grain = :g", {"g": grain})
    return {tuple(r[k] for k in KEY if k in r) + ((r["contacted_within_sla"],) if "contacted_within_sla" in r else ()): r
            for r in rows}


def test_fct_followups_one_row_per_answer_with_its_first_response(built):
    f = {r["survey_id"]: r for r in built.query("SELECT * FROM marts.fct_followups")}
    assert sorted(f) == ["S1", "S10", "S2", "S3", "S4", "S5", "S6", "S7", "S8", "S9"]
    # A case answer's first response is the owner acting on the case, due with the case.
    assert (f["S5"]["first_response_at"], f["S5"]["response_due_at"], f["S5"]["within_sla"],
            f["S5"]["hours_to_first_response"]) == (datetime(2026, 10, 5, 11), datetime(2026, 10, 7, 10), True, Decimal("2.00"))
    assert (f["S7"]["within_sla"], f["S7"]["hours_to_first_response"], f["S7"]["case_overdue"]) == (False, Decimal("96.00"), False)
    assert (f["S1"]["first_response_at"], f["S1"]["within_sla"], f["S1"]["case_overdue"], f["S1"]["escalation_level"],
            f["S1"]["next_score"], f["S1"]["recovered"]) == (None, False, True, 1, 9, True)
    # Without a case the follow-up email is the response (sent one hour after the answer).
    assert (f["S2"]["template"], f["S2"]["referral_ask"], f["S2"]["hours_to_first_response"], f["S2"]["within_sla"],
            f["S2"]["case_id"]) == ("promoter_referral", True, Decimal("1.00"), True, None)
    # Pending and not yet due: nothing to judge.
    assert (f["S4"]["status"], f["S4"]["needs_followup"], f["S4"]["within_sla"]) == ("pending", True, None)
    assert (f["S9"]["case_status"], f["S9"]["within_sla"], f["S9"]["case_overdue"]) == ("open", None, False)
    assert (f["S3"]["industry"], f["S3"]["owner_name"], f["S3"]["response_date"], f["S3"]["arr"]) == (
        "SaaS", "Alice", date(2026, 10, 5), Decimal("1000.00"))


def test_mart_followups_aggregates_per_period_type_category_owner_industry(built):
    week = _rows(built, "mart_followups", "week")
    assert {k[1:] for k in week} == {
        (date(2026, 10, 5), "nps", "detractor"), (date(2026, 10, 5), "nps", "promoter"),
        (date(2026, 10, 5), "csat", "dissatisfied"),
        (date(2026, 10, 19), "nps", "promoter"), (date(2026, 10, 19), "nps", "passive"),
        (date(2026, 10, 19), "nps", "detractor")}
    d = week[("week", date(2026, 10, 5), "nps", "detractor")]
    # Hours to the owners' first action: 2, 25, 96 (C-S1 none). Median 25; p90 at rank 0.9 * 2 = 1.8:
    # 25 + 0.8 * (96 - 25) = 81.8. Within SLA: C-S5, C-S6 of the 4 judged (C-S7 late, C-S1 never) = 50 %.
    assert {k: d[k] for k in ("period_end", "owner_name", "industry", "answers", "needing_followup", "followed_up",
                              "sla_measured", "within_sla", "within_sla_pct", "median_hours_to_first_response",
                              "p90_hours_to_first_response", "emails_sent", "cases_opened", "cases_sla_measured",
                              "cases_within_sla", "cases_open", "cases_overdue", "cases_escalated")} == {
        "period_end": date(2026, 10, 12), "owner_name": "Alice", "industry": "SaaS", "answers": 4,
        "needing_followup": 4, "followed_up": 3, "sla_measured": 4, "within_sla": 2, "within_sla_pct": Decimal("50.00"),
        "median_hours_to_first_response": Decimal("25.00"), "p90_hours_to_first_response": Decimal("81.80"),
        "emails_sent": 4, "cases_opened": 4, "cases_sla_measured": 4, "cases_within_sla": 2, "cases_open": 3,
        "cases_overdue": 1, "cases_escalated": 1}
    p = week[("week", date(2026, 10, 5), "nps", "promoter")]
    assert (p["answers"], p["followed_up"], p["within_sla_pct"], p["median_hours_to_first_response"], p["cases_opened"]) == (
        1, 1, Decimal("100.00"), Decimal("1.00"), 0)
    c = week[("week", date(2026, 10, 5), "csat", "dissatisfied")]
    assert (c["within_sla_pct"], c["median_hours_to_first_response"], c["cases_open"]) == (Decimal("100.00"), Decimal("23.00"), 1)
    later = week[("week", date(2026, 10, 19), "nps", "promoter")]
    assert (later["answers"], later["needing_followup"], later["followed_up"], later["sla_measured"],
            later["within_sla_pct"], later["median_hours_to_first_response"]) == (2, 2, 0, 0, None, None)
    # The month holds both weeks: S9's case is open, not yet due, so not judged.
    m = _rows(built, "mart_followups", "month")[("month", date(2026, 10, 1), "nps", "detractor")]
    assert (m["period_end"], m["answers"], m["followed_up"], m["sla_measured"], m["within_sla_pct"],
            m["median_hours_to_first_response"], m["p90_hours_to_first_response"], m["cases_opened"], m["cases_open"],
            m["cases_overdue"]) == (date(2026, 11, 1), 5, 3, 4, Decimal("50.00"), Decimal("25.00"), Decimal("81.80"), 5, 4, 1)
    q = _rows(built, "mart_followups", "quarter")
    assert sum(r["answers"] for r in q.values()) == 10 and q[("quarter", date(2026, 10, 1), "nps", "detractor")][
        "period_end"] == date(2027, 1, 1)


def test_mart_loop_recovery_splits_next_answers_by_sla(built):
    week = _rows(built, "mart_loop_recovery", "week")
    cols = ("cases", "with_next_answer", "next_positive", "next_neutral", "next_negative", "recovered", "recovered_pct",
            "next_positive_pct", "mean_case_score", "mean_next_score")
    # Within the SLA: C-S5 (2 -> next 7, passive) and C-S6 (5 -> next 4, detractor again).
    assert tuple(week[("week", date(2026, 10, 5), "nps", True)][c] for c in cols) == (
        2, 2, 0, 1, 1, 1, Decimal("50.00"), Decimal("0.00"), Decimal("3.50"), Decimal("5.50"))
    # Late or never: C-S7 (6 -> next 10) and C-S1 (3 -> next 9), both promoters.
    assert tuple(week[("week", date(2026, 10, 5), "nps", False)][c] for c in cols) == (
        2, 2, 2, 0, 0, 2, Decimal("100.00"), Decimal("100.00"), Decimal("4.50"), Decimal("9.50"))
    # C-S3 (CSAT 1) was acted on in time; its contact has not answered again: no shares.
    assert tuple(week[("week", date(2026, 10, 5), "csat", True)][c] for c in cols) == (
        1, 0, 0, 0, 0, 0, None, None, Decimal("1.00"), None)
    # C-S9 (10-20) is still within its SLA: on neither side.
    assert sorted(k for k in week) == [("week", date(2026, 10, 5), "csat", True), ("week", date(2026, 10, 5), "nps", False),
                                       ("week", date(2026, 10, 5), "nps", True)]
    month = _rows(built, "mart_loop_recovery", "month")[("month", date(2026, 10, 1), "nps", True)]
    assert (month["period_end"], month["cases"], month["recovered"]) == (date(2026, 11, 1), 2, 1)


def test_churn_risk_flags_the_overdue_detractor_case(built):
    risk = built.query("SELECT overdue_detractor_case, reasons FROM marts.mart_churn_risk WHERE account_id = 'A1'")[0]
    assert risk["overdue_detractor_case"] is True and "overdue detractor case" in risk["reasons"]


def test_demo_summary_reads_the_sla_and_recovery_from_the_marts(built, tmp_path):
    from nps.demo.loop import summarise

    lines: list[str] = []
    summarise(built, tmp_path, lines.append)
    # Answers judged: S1, S5, S6, S7, S2, S3 (6), on time S5, S6, S2, S3; cases judged 5 (C-S9 not yet
    # due), in time C-S3, C-S5, C-S6.
    assert ("                SLA (marts): answers followed up on time 66.7% of 6; cases acted on by their due time "
            "60.0% of 5; recovered at the next answer: cases acted on within the SLA 50.0% of 2, late or never "
            "100.0% of 2") in lines
