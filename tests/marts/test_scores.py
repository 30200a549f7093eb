"""NPS, CSAT and CES marts against values worked by hand, on DuckDB and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest

from nps import marts
from nps.reports.headline import headline
from tests.marts.helpers import AS_OF, Data, nps_team

OCT = datetime(2026, 10, 5, 10)


def month_row(wh, table: str, start: date, dimension: str = "all", value: str = "all") -> dict:
    rows = wh.query(
        f"SELECT * FROM marts.{table} WHERE period_grain = 'month' AND period_start = :s "
        "AND dimension = :d AND dimension_value = :v",
        {"s": start, "d": dimension, "v": value},
    )
    assert len(rows) == 1, rows
    return rows[0]


def build(wh, data: Data, config) -> None:
    data.load(wh)
    marts.rebuild(wh, AS_OF, config)


def test_seed_example_50_30_20_gives_30(warehouse, program_config):
    # 5 promoters, 3 passives, 2 detractors of 10: NPS = 50% - 20% = 30.
    # v = p + d - (p - d)^2 = 0.5 + 0.2 - 0.09 = 0.61; MOE = 196 * sqrt(0.61 / 10) = 48.41.
    # Adjusted: n' = 13, p' = 5.75/13 = 0.44231, d' = 2.75/13 = 0.21154, NPS' = 23.08;
    # v' = 0.65385 - 0.23077^2 = 0.60059, 196 * sqrt(0.60059 / 13) = 42.13 -> [-19.05, 65.21].
    d = Data()
    nps_team(d, "A1", [10, 10, 9, 9, 10, 8, 7, 8, 3, 6], OCT, industry="Manufacturing")
    build(warehouse, d, program_config)
    row = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    assert (row["promoters"], row["passives"], row["detractors"], row["responses"]) == (5, 3, 2, 10)
    assert row["nps"] == D("30.00") and row["nps_moe"] == D("48.41")
    assert (row["nps_adjusted"], row["nps_ci_lower"], row["nps_ci_upper"]) == (D("23.08"), D("-19.05"), D("65.21"))
    assert row["period_end"] == date(2026, 11, 1)
    # The same numbers under the industry and role dimensions; week starts on Monday 2026-10-05.
    assert month_row(warehouse, "mart_nps", date(2026, 10, 1), "industry", "Manufacturing")["nps"] == D("30.00")
    # The invitations went out on Sunday 4 October, so the calendar starts with ISO week 2026-09-28.
    week = warehouse.query("SELECT period_start, responses, nps FROM marts.mart_nps "
                           "WHERE period_grain = 'week' AND dimension = 'all' ORDER BY period_start")
    assert week == [{"period_start": date(2026, 9, 28), "responses": 0, "nps": None},
                    {"period_start": date(2026, 10, 5), "responses": 10, "nps": D("30.00")}]
    quarter = warehouse.query("SELECT period_start FROM marts.mart_nps WHERE period_grain = 'quarter' AND dimension = 'all'")
    assert quarter == [{"period_start": date(2026, 10, 1)}]
    roles = {r["dimension_value"]: r["responses"] for r in warehouse.query(
        "SELECT dimension_value, responses FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'role'")}
    assert roles == {"decision_maker": 4, "influencer": 3, "user": 3}
    touch = warehouse.query("SELECT dimension_value FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'touchpoint'")
    assert touch == [{"dimension_value": "(relationship)"}]


def test_all_detractors_gives_minus_100(warehouse, program_config):
    # p = 0, d = 1: NPS -100, v = 1 - 1 = 0 so the raw MOE is 0. Adjusted: n' = 7,
    # p' = 0.75/7, d' = 4.75/7, NPS' = -57.14, v' = 0.78571 - 0.57143^2 = 0.45918,
    # 196 * sqrt(0.45918 / 7) = 50.20 -> lower -107.34 clamped to -100, upper -6.94.
    d = Data()
    nps_team(d, "A1", [0, 6, 3, 5], OCT)
    build(warehouse, d, program_config)
    row = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    assert (row["nps"], row["nps_moe"], row["nps_adjusted"]) == (D("-100.00"), D("0.00"), D("-57.14"))
    assert (row["nps_ci_lower"], row["nps_ci_upper"]) == (D("-100.00"), D("-6.94"))


def test_one_response(warehouse, program_config):
    # One 9: NPS 100, MOE 0. Adjusted n' = 4, p' = 1.75/4, d' = 0.75/4, NPS' = 25,
    # v' = 0.625 - 0.0625 = 0.5625, 196 * sqrt(0.5625 / 4) = 73.5 -> [-48.5, 98.5].
    d = Data()
    nps_team(d, "A1", [9], OCT)
    build(warehouse, d, program_config)
    row = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    assert (row["responses"], row["nps"], row["nps_moe"]) == (1, D("100.00"), D("0.00"))
    assert (row["nps_adjusted"], row["nps_ci_lower"], row["nps_ci_upper"]) == (D("25.00"), D("-48.50"), D("98.50"))


def test_no_responses_is_null_not_zero(warehouse, program_config):
    # NPS answers in October and December only: November is in the calendar with 0 responses.
    d = Data()
    nps_team(d, "A1", [10, 3], OCT)
    cid = d.contact("A1-X", "A1")
    d.answer(cid, "nps", 9, datetime(2026, 12, 1, 1))  # before AS_OF (05:30)
    build(warehouse, d, program_config)
    nov = month_row(warehouse, "mart_nps", date(2026, 11, 1))
    assert nov["responses"] == 0 and nov["promoters"] == 0
    assert nov["nps"] is None and nov["nps_moe"] is None and nov["nps_ci_lower"] is None and nov["nps_ci_upper"] is None
    assert nov["prev_nps"] == D("0.00") and nov["prev_responses"] == 2
    assert nov["nps_change"] is None and nov["change_significant"] is None
    dec = month_row(warehouse, "mart_nps", date(2026, 12, 1))
    assert dec["nps"] == D("100.00") and dec["prev_nps"] is None and dec["change_significant"] is None
    # No CSAT or CES answers at all: those marts are empty, and the headline says unknown, not 0.
    assert warehouse.scalar("SELECT COUNT(*) FROM marts.mart_csat") == 0
    head = headline(warehouse, program_config)
    assert head["overall"]["csat_pct"] is None and head["overall"]["ces_mean"] is None
    assert head["overall"]["nps"] == 33.33


def test_category_borders(warehouse, program_config):
    # 6 detractor, 7 and 8 passives, 9 promoter: NPS = 25% - 25% = 0.
    # v = 0.5 - 0 = 0.5, MOE = 196 * sqrt(0.5/4) = 69.30; adjusted p' = d' = 1.75/7, NPS' = 0,
    # v' = 0.5, 196 * sqrt(0.5/7) = 52.38.
    d = Data()
    nps_team(d, "A1", [6, 7, 8, 9], OCT)
    build(warehouse, d, program_config)
    cats = {r["score"]: r["category"] for r in warehouse.query("SELECT score, category FROM marts.fct_survey_responses")}
    assert cats == {6: "detractor", 7: "passive", 8: "passive", 9: "promoter"}
    row = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    assert (row["promoters"], row["passives"], row["detractors"]) == (1, 2, 1)
    assert (row["nps"], row["nps_moe"], row["nps_ci_lower"], row["nps_ci_upper"]) == (D("0.00"), D("69.30"), D("-52.38"), D("52.38"))


def test_latest_answer_wins(warehouse, program_config):
    d = Data()
    d.account("A1")
    c1, c2 = d.contact("C1", "A1"), d.contact("C2", "A1")
    s1 = d.invite(c1, "nps", datetime(2026, 10, 1))
    d.respond(s1, 3, datetime(2026, 10, 2, 9), response_id="R-a")
    d.respond(s1, 10, datetime(2026, 10, 3, 9), response_id="R-b")  # the later answer counts
    s2 = d.invite(c2, "nps", datetime(2026, 10, 1))
    d.respond(s2, 10, datetime(2026, 10, 2, 9), response_id="R-y")
    d.respond(s2, 0, datetime(2026, 10, 2, 9), response_id="R-z")  # same instant: larger response_id wins
    # A late answer (given before the build instant) lands in its own period.
    s3 = d.invite(c2, "nps", datetime(2026, 9, 1))
    d.respond(s3, 8, datetime(2026, 9, 2, 9), response_id="R-late")
    build(warehouse, d, program_config)
    fct = {r["survey_id"]: (r["response_id"], r["score"], r["answers_received"]) for r in
           warehouse.query("SELECT survey_id, response_id, score, answers_received FROM marts.fct_survey_responses")}
    assert fct == {s1: ("R-b", 10, 2), s2: ("R-z", 0, 2), s3: ("R-late", 8, 1)}
    row = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    assert (row["promoters"], row["detractors"], row["responses"], row["nps"]) == (1, 1, 2, D("0.00"))
    assert month_row(warehouse, "mart_nps", date(2026, 9, 1))["responses"] == 1


@pytest.mark.parametrize(
    ("first", "second", "significant", "worked"),
    [
        # Sep: 20 P / 30 A / 50 D of 100 (NPS -30), Oct: 60 / 30 / 10 (NPS 50).
        # NPS'1 = (20.75 - 50.75) / 103 = -0.29126, v'1/n'1 = 0.0020658;
        # NPS'2 = (60.75 - 10.75) / 103 = 0.48544, v'2/n'2 = 0.0015701;
        # |0.48544 + 0.29126| = 0.77670 > 1.96 * sqrt(0.0036359) = 0.11818 -> significant.
        pytest.param((20, 30, 50), (60, 30, 10), True, (D("50.00"), D("-30.00"), 100, D("80.00")), id="significant"),
        # Sep: 5 / 3 / 2 of 10 (NPS 30), Oct: 6 / 2 / 2 (NPS 40).
        # NPS'1 = 3/13 = 0.23077, v'1/n'1 = 0.60059 / 13 = 0.046199;
        # NPS'2 = 4/13 = 0.30769, v'2/n'2 = 0.63609 / 13 = 0.048930;
        # |0.07692| < 1.96 * sqrt(0.095129) = 0.60452 -> noise.
        pytest.param((5, 3, 2), (6, 2, 2), False, (D("40.00"), D("30.00"), 10, D("10.00")), id="noise"),
    ],
)
def test_change_significance(warehouse, program_config, first, second, significant, worked):
    d = Data()
    for month, (p, a, det) in ((datetime(2026, 9, 7), first), (datetime(2026, 10, 5), second)):
        nps_team(d, f"A{month.month}", [10] * p + [7] * a + [2] * det, month)
    build(warehouse, d, program_config)
    oct_ = month_row(warehouse, "mart_nps", date(2026, 10, 1))
    # (October's NPS, September's NPS, September's answers, the change), worked above by hand.
    assert (oct_["nps"], oct_["prev_nps"], oct_["prev_responses"], oct_["nps_change"]) == worked
    assert month_row(warehouse, "mart_nps", date(2026, 9, 1))["nps"] == worked[1]
    assert oct_["change_significant"] is significant


def test_csat_and_ces_margins(warehouse, program_config):
    d = Data()
    d.account("A1", industry="Retail")
    for i, s in enumerate([5, 5, 5, 4, 4, 4, 3, 2, 1, 5]):
        d.answer(d.contact(f"S{i}", "A1"), "csat", s, OCT + timedelta(hours=i), program="transactional", touchpoint="purchase")
    for i, s in enumerate([7, 6, 2, 4]):
        d.answer(d.contact(f"E{i}", "A1"), "ces", s, OCT + timedelta(hours=i), program="transactional",
                 touchpoint="support_ticket_closed")
    build(warehouse, d, program_config)
    # CSAT: 7 of 10 answers are 4-5 -> 70%. Adjusted Wald: p~ = (7 + 2) / (10 + 4) = 0.642857,
    # MOE = 196 * sqrt(0.642857 * 0.357143 / 14) = 25.10 -> [64.29 - 25.10, 64.29 + 25.10] = [39.19, 89.39].
    # Mean 38 / 10 = 3.8; s^2 = (162 - 38^2/10) / 9 = 1.95556, MOE = 1.96 * sqrt(1.95556 / 10) = 0.87.
    c = month_row(warehouse, "mart_csat", date(2026, 10, 1))
    assert (c["satisfied"], c["neutral"], c["dissatisfied"], c["responses"]) == (7, 1, 2, 10)
    assert (c["csat_pct"], c["csat_pct_moe"], c["csat_pct_ci_lower"], c["csat_pct_ci_upper"]) == (
        D("70.00"), D("25.10"), D("39.19"), D("89.39"))
    assert (c["csat_mean"], c["csat_mean_moe"]) == (D("3.80"), D("0.87"))
    assert month_row(warehouse, "mart_csat", date(2026, 10, 1), "touchpoint", "purchase")["responses"] == 10
    # CES 7, 6, 2, 4: easy 2, neutral 1, high effort 1; mean 19 / 4 = 4.75,
    # s^2 = (105 - 19^2/4) / 3 = 4.91667, MOE = 1.96 * sqrt(4.91667 / 4) = 2.17;
    # easy 50%, p~ = 4 / 8 = 0.5, MOE = 196 * sqrt(0.25 / 8) = 34.65.
    e = month_row(warehouse, "mart_ces", date(2026, 10, 1))
    assert (e["easy"], e["neutral"], e["high_effort"], e["responses"]) == (2, 1, 1, 4)
    assert (e["ces_mean"], e["ces_mean_moe"], e["ces_easy_pct"], e["ces_easy_pct_moe"]) == (
        D("4.75"), D("2.17"), D("50.00"), D("34.65"))
    cats = {r["score"]: r["category"] for r in warehouse.query(
        "SELECT score, category FROM marts.fct_survey_responses WHERE survey_type = 'ces'")}
    assert cats == {7: "easy", 6: "easy", 4: "neutral", 2: "high_effort"}
