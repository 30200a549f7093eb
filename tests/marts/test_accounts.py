"""B2B roll-ups, retention and churn risk against values worked by hand, on both engines."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

from nps import marts
from nps.reports.headline import headline
from tests.marts.helpers import AS_OF, Data, nps_team

OCT = datetime(2026, 10, 5, 10)


def test_arr_weighting_and_revenue_coverage(warehouse, program_config):
    d = Data()
    nps_team(d, "A1", [10, 10], OCT, arr=10000)    # account NPS 100
    nps_team(d, "A2", [0, 9], OCT, arr=30000)      # 1 promoter, 1 detractor: 0
    nps_team(d, "A3", [5], OCT, arr=60000)         # -100
    d.account("A4", arr=100000)                    # active, no answer
    d.account("A5", arr=500000, start=date(2025, 1, 1), end=date(2026, 9, 1), reason="churned")  # gone before October
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    rows = {r["account_id"]: r for r in warehouse.query(
        "SELECT * FROM marts.mart_account_nps WHERE period_grain = 'month' AND period_start = :s", {"s": date(2026, 10, 1)})}
    assert {k: v["account_nps"] for k, v in rows.items()} == {"A1": D("100.00"), "A2": D("0.00"), "A3": D("-100.00")}
    assert rows["A2"]["mean_score"] == D("4.50") and rows["A2"]["respondents"] == 2
    assert (rows["A2"]["respondents_decision_maker"], rows["A2"]["respondents_influencer"]) == (1, 1)
    s = warehouse.query("SELECT * FROM marts.mart_account_nps_summary WHERE period_grain = 'month' AND period_start = :s",
                        {"s": date(2026, 10, 1)})[0]
    # Respondent level: 3 promoters (10, 10, 9) and 2 detractors (0, 5) of 5 -> 20.
    # Account mean: (100 + 0 - 100) / 3 = 0.
    # ARR-weighted: (10000 * 100 + 30000 * 0 + 60000 * -100) / 100000 = -50.
    # Coverage: active ARR = A1..A4 = 200000, of which 100000 answered -> 50%.
    assert (s["responses"], s["respondents"], s["accounts_responding"]) == (5, 5, 3)
    assert (s["respondent_nps"], s["account_mean_nps"], s["arr_weighted_nps"]) == (D("20.00"), D("0.00"), D("-50.00"))
    assert (s["active_accounts"], s["active_arr"], s["responding_arr"], s["revenue_coverage_pct"]) == (
        4, D("200000.00"), D("100000.00"), D("50.00"))


def test_retention_and_churn_with_new_and_lost_accounts(warehouse, program_config):
    d = Data()
    d.account("R1", start=date(2025, 1, 1))                                               # stays
    d.account("R2", start=date(2025, 1, 1), end=date(2026, 10, 15), reason="churned")      # lost in October
    d.account("R3", start=date(2026, 10, 10))                                              # new in October
    d.account("R4", start=date(2025, 6, 1), end=date(2026, 9, 20), reason="churned")       # lost in September
    d.account("R5", start=date(2025, 1, 1), end=date(2026, 10, 1), reason="renewed")       # renewed: stays
    d.contract("R5", date(2026, 10, 1), None, None)
    d.account("R6", start=date(2025, 3, 1), end=date(2026, 11, 5), reason="churned")       # lost in November
    for acc, score, when in (("R1", 7, datetime(2026, 9, 10)), ("R1", 10, OCT), ("R2", 8, OCT), ("R6", 2, OCT),
                             ("R1", 9, datetime(2026, 11, 10))):
        cid = d.contact(f"{acc}-{when:%m}", acc)
        d.answer(cid, "nps", score, when)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    ret = {r["period_start"]: r for r in warehouse.query("SELECT * FROM marts.mart_retention WHERE period_grain = 'month'")}
    # October: customers on 30 September = R1, R2, R5, R6 (R4 left on 20 September) = 4;
    # acquired R3, lost R2 -> at end 4. Retention (4 - 1) / 4 = 75%, churn 1 / 4 = 25%.
    o = ret[date(2026, 10, 1)]
    assert (o["customers_at_start"], o["customers_acquired"], o["customers_lost"], o["customers_at_end"]) == (4, 1, 1, 4)
    assert (o["retention_rate_pct"], o["churn_rate_pct"]) == (D("75.00"), D("25.00"))
    # September: R1, R2, R4, R5, R6 at start; R4 lost -> 80% / 20%.
    s = ret[date(2026, 9, 1)]
    assert (s["customers_at_start"], s["customers_lost"], s["retention_rate_pct"], s["churn_rate_pct"]) == (5, 1, D("80.00"), D("20.00"))
    # November: R6 lost of 4.
    n = ret[date(2026, 11, 1)]
    assert (n["customers_at_start"], n["customers_lost"], n["churn_rate_pct"]) == (4, 1, D("25.00"))
    # Churn next period by latest NPS category in October: R6 detractor churned in November
    # (100%), R1 promoter stayed (0%); R2 (passive) was gone by the end of October.
    assert (o["detractor_accounts"], o["detractor_churned_next"], o["detractor_churn_next_pct"]) == (1, 1, D("100.00"))
    assert (o["promoter_accounts"], o["promoter_churned_next"], o["promoter_churn_next_pct"]) == (1, 0, D("0.00"))
    assert (o["passive_accounts"], o["passive_churn_next_pct"]) == (0, None)


def test_churn_risk_reasons_and_arr_at_risk(warehouse, program_config):
    d = Data()
    d.account("B1", arr=80000, name="Vertex Steel")
    c1 = d.contact("B1-C1", "B1", role="decision_maker")
    d.answer(c1, "nps", 9, datetime(2026, 8, 1, 10))
    d.answer(c1, "nps", 6, datetime(2026, 11, 1, 10))      # detractor now, and 3 points down
    d.answer(d.contact("B1-C2", "B1"), "csat", 2, datetime(2026, 11, 2, 10), program="transactional", touchpoint="purchase")
    d.answer(d.contact("B1-C3", "B1"), "ces", 3, datetime(2026, 11, 3, 10), program="transactional",
             touchpoint="support_ticket_closed")
    d.account("B2", arr=20000)                              # silent for two relationship cycles
    c2 = d.contact("B2-C1", "B2")
    d.invite(c2, "nps", datetime(2026, 4, 10), cycle="2026-Q2")
    d.invite(c2, "nps", datetime(2026, 7, 10), cycle="2026-Q3")
    d.account("B3", arr=50000)                              # silent once, then answered: passive
    c3 = d.contact("B3-C1", "B3")
    d.invite(c3, "nps", datetime(2026, 4, 10), cycle="2026-Q2")
    d.answer(c3, "nps", 8, datetime(2026, 7, 11), cycle="2026-Q3")
    d.account("B4", arr=999999, end=date(2026, 11, 1), reason="churned")  # no longer a customer
    nps_team(d, "B5", [10, 9], OCT, arr=70000)              # promoters: no risk
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    rows = warehouse.query("SELECT * FROM marts.mart_churn_risk ORDER BY risk_rank")
    assert [r["account_id"] for r in rows] == ["B1", "B3", "B2", "B5"]
    b1, b3, b2, b5 = rows
    # B1: recent detractor (3) + drop 9 -> 6 (2) + CSAT 2 (2) + CES 3 (1) = 8 points; its only
    # NPS respondent's latest answer is 6 -> detractor account: 0.5 x 80000 = 40000 short term.
    assert (b1["recent_detractor"], b1["score_drop"], b1["low_csat"], b1["high_effort"], b1["no_answer_two_cycles"]) == (
        True, True, True, True, False)
    assert (b1["risk_points"], b1["risk_level"], b1["nps_category"]) == (8, "high", "detractor")
    assert b1["reasons"] == "recent detractor, NPS dropped 3+ points, low CSAT, high effort"
    assert (b1["arr_at_risk_short_term"], b1["arr_at_risk_long_term"], b1["arr_at_risk"]) == (D("40000.00"), D("0.00"), D("40000.00"))
    assert b1["overdue_detractor_case"] is False and b1["owner_name"] == "Alice Morgan" and b1["account_name"] == "Vertex Steel"
    # B3: passive (8) -> 0.3 x 50000 = 15000 long term; one silent cycle is not two.
    assert (b3["nps_category"], b3["arr_at_risk_long_term"], b3["no_answer_two_cycles"], b3["risk_level"]) == (
        "passive", D("15000.00"), False, "none")
    # B2: nobody answered 2026-Q2 nor 2026-Q3 -> 1 point, low; no NPS, no ARR at risk.
    assert (b2["no_answer_two_cycles"], b2["risk_points"], b2["risk_level"], b2["reasons"], b2["arr_at_risk"]) == (
        True, 1, "low", "no answer in two cycles", D("0.00"))
    assert (b5["nps_category"], b5["risk_level"], b5["arr_at_risk"]) == ("promoter", "none", D("0.00"))
    assert {r["as_of"] for r in rows} == {AS_OF}
    head = headline(warehouse, program_config)
    assert [r["account_name"] for r in head["top_risks"]] == ["Vertex Steel", "Account B2"]
    assert head["arr_at_risk_total"] == 55000.0
    assert "  Vertex Steel (SaaS, Alice Morgan): ARR at risk 40,000 [high] recent detractor, NPS dropped 3+ points, " \
        "low CSAT, high effort" in head["lines"]


def test_score_drop_compares_with_the_answer_before_the_latest_even_outside_the_window(warehouse, program_config):
    d = Data()
    d.account("D1", arr=10000)
    c = d.contact("D1-C1", "D1")
    d.answer(c, "nps", 10, datetime(2025, 11, 3, 10))   # more than 180 days before AS_OF
    d.answer(c, "csat", 5, datetime(2026, 9, 1, 10), program="transactional", touchpoint="purchase")  # other type
    d.answer(c, "nps", 7, datetime(2026, 10, 6, 10))    # 3 points down: passive, not a detractor
    d.account("D2", arr=10000)
    c2 = d.contact("D2-C1", "D2")
    d.answer(c2, "nps", 6, datetime(2026, 9, 1, 10))
    d.answer(c2, "nps", 9, datetime(2026, 10, 1, 10))   # up, not down
    d.account("D3", arr=10000)
    c3 = d.contact("D3-C1", "D3")
    d.answer(c3, "nps", 10, datetime(2026, 3, 1, 10))
    d.answer(c3, "nps", 4, datetime(2026, 4, 1, 10))    # dropped, but before the look-back window
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    rows = {r["account_id"]: r for r in warehouse.query("SELECT * FROM marts.mart_churn_risk")}
    assert {k: (r["score_drop"], r["recent_detractor"], r["nps_respondents"]) for k, r in rows.items()} == {
        "D1": (True, False, 1), "D2": (False, False, 1), "D3": (False, False, 0)}
    assert (rows["D1"]["reasons"], rows["D1"]["risk_points"], rows["D1"]["nps_category"]) == ("NPS dropped 3+ points", 2, "passive")


def test_response_rates(warehouse, program_config):
    d = Data()
    d.account("A1", industry="Retail")
    c = d.contact("C1", "A1")
    answered = d.answer(c, "nps", 9, OCT)
    bounced = d.invite(c, "nps", OCT, delivery_status="bounce")
    via_event = d.invite(c, "nps", OCT, delivery_status=None)
    d.event(via_event, "delivered", OCT + timedelta(minutes=1))
    d.invite(c, "nps", OCT, delivery_status="processed")      # no evidence yet
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    rows = warehouse.query("SELECT * FROM marts.mart_response_rates WHERE period_grain = 'month'")
    assert len(rows) == 1
    r = rows[0]
    # 4 sent; delivered = answered + the delivered event = 2; bounced 1; answered 1.
    assert (r["survey_type"], r["industry"], r["touchpoint"], r["period_start"]) == ("nps", "Retail", "(relationship)", date(2026, 10, 1))
    assert (r["invitations_sent"], r["delivered"], r["bounced"], r["answered"]) == (4, 2, 1, 1)
    assert (r["response_rate_pct"], r["response_rate_delivered_pct"]) == (D("25.00"), D("50.00"))
    # Which invitation counted as what: the answered one and the bounced one, by survey id.
    fct = warehouse.query("SELECT survey_id, score FROM marts.fct_survey_responses")
    assert fct == [{"survey_id": answered, "score": 9}]
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.survey_invitations WHERE delivery_status = 'bounce' "
                            "AND survey_id = :s", {"s": bounced}) == 1
