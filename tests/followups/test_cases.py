"""Owner alerts, escalation across a weekend and the digest, through the ledger, on both warehouses."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy

from nps.email.outbox import OutboxTransport
from nps.followups.cases import digest, escalate, ingest_case_files, owner_alerts
from nps.followups.decide import decide
from nps.ingest.landing import Landing
from tests.cohorts.helpers import account, contact
from tests.followups.helpers import answer, answers, cases, fconfig, history, seed

FRI = datetime(2026, 10, 9, 12)  # Friday 14:00 in Warsaw
CFG = fconfig()


def _setup(wh):
    bob = {**account("A2", name="Orbit <Retail>"), "owner_name": "Bob", "owner_email": ""}
    seed(wh, [("S01", "P1", "nps", "en"), ("S02", "P2", "nps", "en"), ("S03", "P3", "csat", "en"),
              ("S04", "P4", "ces", "en")],
         accounts=[account("A1", name="Smith & Sons"), bob],
         contacts=[contact("P1", "A1"), contact("P2", "A1"), contact("P3", "A2"), contact("P4", "A1")])
    answers(wh, [answer("S01", "nps", 2, FRI - timedelta(hours=2), comment="Nobody <answered>"),
                 answer("S02", "nps", 4, FRI - timedelta(hours=2)),
                 answer("S03", "csat", 1, FRI - timedelta(hours=2))])
    decide(wh, CFG, FRI, "run1")


def _eml(path):
    return email.message_from_bytes(path.read_bytes(), policy=policy.default)


def test_one_alert_per_owner_per_run_and_the_cs_lead_for_accounts_without_an_owner(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    box = OutboxTransport(tmp_path)
    res = owner_alerts(warehouse, CFG, box, now=FRI, run_id="run1", folder="f1")
    assert (res.emails, res.cases, res.unrouted, res.unsent, res.confirmed) == (2, 3, 1, 0, 3)
    files = sorted((tmp_path / "f1").iterdir())
    assert len(files) == 2
    msgs = {m["To"].addresses[0].addr_spec: m for m in map(_eml, files)}
    alice, lead = msgs["alice@example.com"], msgs["lead@example.com"]
    assert alice["Subject"] == "2 new feedback cases for your accounts: please call by Tue 2026-10-13 14:00 CEST"
    text = alice.get_body("plain").get_content()
    assert "Hi Alice," in text
    assert ("- C-S01 · Smith & Sons · Jo P1 · NPS 2 (detractor) · due Tue 2026-10-13 14:00 CEST\n"
            '  "Nobody <answered>"') in text
    assert "Nobody &lt;answered&gt;" in alice.get_body("html").get_content()
    assert "List-Unsubscribe" not in alice
    lead_text = lead.get_body("plain").get_content()
    assert "have no owner address" in lead_text and "C-S03 · Orbit <Retail>" in lead_text
    c = cases(warehouse)
    assert all(c[k]["owner_alerted_at"] == FRI for k in ("C-S01", "C-S02", "C-S03"))
    assert history(warehouse, "C-S01")[-1] == (2, "owner_alerted", None, None)
    # The rerun sends nothing; a case opened later gets its own alert in the next run.
    assert owner_alerts(warehouse, CFG, box, now=FRI, run_id="run1", folder="f1").emails == 0
    answers(warehouse, [answer("S04", "ces", 1, FRI + timedelta(minutes=10))])
    later = FRI + timedelta(hours=1)
    decide(warehouse, CFG, later, "run2")
    res2 = owner_alerts(warehouse, CFG, box, now=later, run_id="run2", folder="f2")
    assert (res2.emails, res2.cases) == (1, 1)
    assert [p.name for p in (tmp_path / "f2").iterdir()][0].startswith("alert_")
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.message_ledger WHERE kind = 'alert' AND status = 'sent'") == 3


def test_without_a_cs_lead_the_case_is_reported_not_lost(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    cfg = fconfig(cs_lead=None)
    res = owner_alerts(warehouse, cfg, OutboxTransport(tmp_path), now=FRI, run_id="run1", folder="f1")
    assert (res.emails, res.cases, res.unsent) == (1, 2, 1)
    assert cases(warehouse)["C-S03"]["owner_alerted_at"] is None


def test_escalation_one_level_per_run_on_the_sla_clock_across_a_weekend(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    box = OutboxTransport(tmp_path)
    c = cases(warehouse)
    # Opened Fri 14:00 Warsaw: 10 h Friday + 24 h Monday + 14 h Tuesday -> Tue 14:00 Warsaw (12:00 UTC).
    assert c["C-S01"]["due_at"] == datetime(2026, 10, 13, 12)
    # Two clock days later (Sunday) and on Monday nothing is overdue: the weekend does not count.
    for when in (datetime(2026, 10, 11, 12), datetime(2026, 10, 12, 12)):
        assert escalate(warehouse, CFG, box, now=when, run_id="r", folder="f").emails == 0
    # C-S02's owner acted (in progress): it stops climbing.
    lz = Landing(str(tmp_path / "landing"))
    (lz.root / "cases").mkdir(parents=True)
    (lz.root / "cases" / "crm.csv").write_text("case_id,status\nC-S02,in_progress\n", encoding="utf-8")
    ingest_case_files(warehouse, lz, now=datetime(2026, 10, 12, 9), run_id="r")
    # A new case opened Friday 13:00 UTC is due Tuesday 13:00 UTC.
    answers(warehouse, [answer("S04", "ces", 1, FRI + timedelta(minutes=10))])
    decide(warehouse, CFG, FRI + timedelta(hours=1), "run2")
    tue = datetime(2026, 10, 13, 12)
    monkeypatch.setenv("NPS_FAKE_NOW", tue.isoformat())
    res = escalate(warehouse, CFG, box, now=tue, run_id="r3", folder="tue")
    assert (res.emails, res.by_level, res.confirmed) == (2, {"1": 2}, 2)
    assert sorted(p.name for p in (tmp_path / "tue").iterdir()) == [
        "escalation_C-S01_1.eml", "escalation_C-S03_1.eml"]
    m = _eml(tmp_path / "tue" / "escalation_C-S01_1.eml")
    assert m["To"].addresses[0].addr_spec == "lead@example.com"
    assert m["Subject"] == "Escalation level 1: feedback case C-S01 (Smith & Sons) is overdue"
    assert escalate(warehouse, CFG, box, now=tue, run_id="r3", folder="tue").emails == 0  # a rerun: nothing twice
    # Thursday: C-S01 and C-S03 reach level 2 (24 SLA hours past due); C-S04, overdue long enough for
    # level 2 as well, climbs only to level 1 in this run, and to level 2 in the next.
    thu = datetime(2026, 10, 15, 12)
    monkeypatch.setenv("NPS_FAKE_NOW", thu.isoformat())
    res = escalate(warehouse, CFG, box, now=thu, run_id="r4", folder="thu")
    assert res.by_level == {"2": 2, "1": 1}
    assert _eml(tmp_path / "thu" / "escalation_C-S01_2.eml")["To"].addresses[0].addr_spec == "vp@example.com"
    res = escalate(warehouse, CFG, box, now=thu + timedelta(hours=1), run_id="r5", folder="thu2")
    assert res.by_level == {"2": 1}
    assert escalate(warehouse, CFG, box, now=thu + timedelta(hours=2), run_id="r6", folder="thu3").emails == 0
    c = cases(warehouse)
    assert {k: v["escalation_level"] for k, v in c.items()} == {"C-S01": 2, "C-S02": 0, "C-S03": 2, "C-S04": 2}
    assert [h[1] for h in history(warehouse, "C-S01")] == ["opened", "escalated", "escalated"]


def test_daily_digest_once_per_local_day_after_the_hour(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    box = OutboxTransport(tmp_path)
    early = datetime(2026, 10, 14, 5)   # 07:00 in Warsaw: before digest_hour 8
    assert digest(warehouse, CFG, box, now=early, run_id="r", folder="d0").emails == 0
    at = datetime(2026, 10, 14, 7)      # 09:00 in Warsaw
    monkeypatch.setenv("NPS_FAKE_NOW", at.isoformat())
    res = digest(warehouse, CFG, box, now=at, run_id="r", folder="d1")
    assert (res.emails, res.cases, res.confirmed) == (1, 3, 1)
    m = _eml(tmp_path / "d1" / next(p.name for p in (tmp_path / "d1").iterdir()))
    assert m["Subject"] == "Close-the-loop digest 2026-10-14: 3 open, 3 overdue, 0 resolved"
    assert digest(warehouse, CFG, box, now=at + timedelta(hours=3), run_id="r2", folder="d2").confirmed == 0
    assert not (tmp_path / "d2").exists()
