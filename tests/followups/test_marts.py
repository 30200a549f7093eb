"""The closing-the-loop marts in the write-audit-publish build, on both warehouses:
marts.mart_followups, marts.mart_loop_recovery and mart_churn_risk.overdue_detractor_case."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from nps import marts
from nps.config import parse_config
from nps.email.outbox import OutboxTransport
from nps.followups.cases import ingest_case_files
from nps.followups.decide import decide
from nps.followups.send import send_followups
from nps.ingest.landing import Landing
from nps.tokens import TokenSigner
from tests.cohorts.helpers import CONFIG, contract, load
from tests.followups.helpers import FOLLOWUPS, answer, answers, seed

MON = datetime(2026, 10, 5, 10)  # Monday 12:00 in Warsaw
AS_OF = datetime(2026, 10, 21)
CFG = parse_config({**CONFIG, "followups": FOLLOWUPS, "themes": {"support": {"en": ["support"]}}})


def test_followup_marts(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", MON.isoformat())
    seed(warehouse, [("S1", "P1", "nps", "en"), ("S2", "P2", "nps", "en"), ("S3", "P3", "csat", "en"),
                     ("S4", "P1", "nps", "en")])
    load(warehouse, "src.contracts", [contract("K1", "A1", date(2025, 1, 1))])
    answers(warehouse, [answer("S1", "nps", 3, datetime(2026, 10, 5, 9)), answer("S2", "nps", 10, datetime(2026, 10, 5, 9)),
                        answer("S3", "csat", 1, datetime(2026, 10, 5, 9))])
    decide(warehouse, CFG, MON, "r1")
    send_followups(warehouse, CFG, TokenSigner("x" * 32), OutboxTransport(tmp_path), now=MON, run_id="r1", folder="f")
    lz = Landing(str(tmp_path / "landing"))
    (lz.root / "cases").mkdir(parents=True)
    (lz.root / "cases" / "crm.csv").write_text("case_id,status,updated_at\nC-S3,in_progress,2026-10-06T08:00:00\n",
                                               encoding="utf-8")
    ingest_case_files(warehouse, lz, now=datetime(2026, 10, 6, 9), run_id="r2")
    answers(warehouse, [answer("S4", "nps", 9, datetime(2026, 10, 20, 9))])  # P1's next NPS answer
    decide(warehouse, CFG, datetime(2026, 10, 20, 9, 5), "r3")                 # decided, not yet sent
    marts.rebuild(warehouse, AS_OF, CFG)

    f = {r["survey_id"]: r for r in warehouse.query("SELECT * FROM marts.mart_followups")}
    assert sorted(f) == ["S1", "S2", "S3", "S4"]
    assert (f["S1"]["status"], f["S1"]["template"], f["S1"]["hours_to_followup"], f["S1"]["followup_on_time"],
            f["S1"]["case_id"], f["S1"]["case_status"]) == ("sent", "detractor_apology", Decimal("1.00"), True, "C-S1", "open")
    assert (f["S2"]["template"], f["S2"]["referral_ask"]) == ("promoter_referral", True)
    assert (f["S4"]["status"], f["S4"]["template"], f["S4"]["followup_on_time"]) == ("pending", "promoter_referral", None)
    assert f["S3"]["industry"] == "SaaS" and f["S3"]["response_date"] == date(2026, 10, 5)

    r = {x["case_id"]: x for x in warehouse.query("SELECT * FROM marts.mart_loop_recovery")}
    assert sorted(r) == ["C-S1", "C-S3"]
    # C-S1: due Wed 10-07 12:00 Warsaw (10:00 UTC), nobody acted: SLA missed, overdue; P1's next
    # NPS answer (9) recovered.
    assert (r["C-S1"]["due_at"], r["C-S1"]["sla_met"], r["C-S1"]["overdue"], r["C-S1"]["next_score"],
            r["C-S1"]["recovered"]) == (datetime(2026, 10, 7, 10), False, True, 9, True)
    # C-S3: acted on Tuesday 08:00 UTC, 22 hours after it opened: SLA met, no next answer yet.
    assert (r["C-S3"]["sla_met"], r["C-S3"]["hours_to_first_action"], r["C-S3"]["overdue"], r["C-S3"]["recovered"]) == (
        True, Decimal("22.00"), True, None)

    risk = warehouse.query("SELECT overdue_detractor_case, risk_points, reasons FROM marts.mart_churn_risk "
                           "WHERE account_id = 'A1'")[0]
    # S4 (9) is P1's latest NPS answer, so no recent detractor; low CSAT 2 + overdue case 1.
    assert risk == {"overdue_detractor_case": True, "risk_points": 3, "reasons": "low CSAT, overdue detractor case"}
