"""Follow-up decisions on both warehouses: one recorded decision per counted answer, the latest
answer winning until the email is sent, the referral ask at most once per 180 days, suppressions,
and the cases the rules open."""

from __future__ import annotations

from datetime import datetime, timedelta

from nps.followups.decide import decide
from tests.cohorts.helpers import contact, load
from tests.followups.helpers import answer, answers, cases, decisions, fconfig, history, seed

NOW = datetime(2026, 10, 7, 12)  # Wednesday 14:00 in Warsaw
CFG = fconfig()


def _seed(wh):
    surveys = [("S01", "P1", "nps", "en"), ("S02", "P2", "nps", "en"), ("S03", "P3", "nps", "pl"),
               ("S04", "P4", "ces", "en"), ("S05", "P5", "nps", "en"), ("S06", "P6", "nps", "en"),
               ("S07", "P7", "csat", "en"), ("S08", "P1", "csat", "en"), ("S09", "P8", "nps", "en"),
               ("S10", "P1", "nps", "en"), ("S11", "P9", "nps", "en")]
    people = [contact(f"P{i}", "A1", locale="pl" if i == 3 else "en") for i in range(1, 10)]
    people[6]["email"] = "not-an-address"
    seed(wh, surveys, contacts=people)
    load(wh, "ops.suppressions", [{"email": "P6@A1.example.com", "reason": "unsubscribe", "contact_id": "P6",
                                   "source": "events.json", "occurred_at": datetime(2026, 9, 1)}])
    # P8 was asked to refer 100 days ago (an earlier survey's follow-up).
    load(wh, "ops.followup_decisions", [{
        "survey_id": "S00", "response_id": "R0", "survey_type": "nps", "score": 10, "category": "promoter",
        "responded_at": NOW - timedelta(days=100), "contact_id": "P8", "account_id": "A1", "locale": "en",
        "rule": "nps.promoter", "template": "promoter_referral", "referral_ask": True, "status": "sent", "reason": "sent",
        "send_key": "followup/S00", "due_at": NOW - timedelta(days=98), "decided_at": NOW - timedelta(days=100),
        "updated_at": NOW - timedelta(days=100), "sent_at": NOW - timedelta(days=100), "changed_after_send": 0,
        "run_id": "old"}])
    answers(wh, [
        answer("S01", "nps", 10, datetime(2026, 10, 7, 9)),
        answer("S02", "nps", 8, datetime(2026, 10, 7, 11, 50)),
        answer("S03", "nps", 2, datetime(2026, 10, 7, 8), comment="Nikt nie odpowiedział <script>"),
        answer("S04", "ces", 6, datetime(2026, 10, 7, 8)),
        answer("S05", "nps", 3, datetime(2026, 9, 20, 8)),
        answer("S06", "nps", 9, datetime(2026, 10, 7, 8)),
        answer("S07", "csat", 1, datetime(2026, 10, 7, 8)),
        answer("S08", "csat", 5, datetime(2026, 10, 7, 8)),
        answer("S09", "nps", 10, datetime(2026, 10, 7, 8)),
        answer("S10", "nps", 9, datetime(2026, 10, 7, 10)),
        answer("S11", "nps", 2, datetime(2026, 10, 7, 8)),
        answer("S11", "nps", 9, datetime(2026, 10, 7, 9)),
        answer("S12", "nps", 7, datetime(2026, 10, 7, 13)),  # after the run's moment: not counted yet
    ])


def _view(d):
    return {sid: (r["status"], r["template"], bool(r["referral_ask"]), r["score"], r["category"]) for sid, r in d.items()}


def test_every_counted_answer_gets_a_decision(warehouse):
    _seed(warehouse)
    res = decide(warehouse, CFG, NOW, "run1")
    assert res.considered == 11
    d = decisions(warehouse)
    assert _view(d) == {
        "S00": ("sent", "promoter_referral", True, 10, "promoter"),
        "S01": ("pending", "promoter_referral", True, 10, "promoter"),
        "S02": ("pending", "passive_improve", False, 8, "passive"),
        "S03": ("pending", "detractor_apology", False, 2, "detractor"),
        "S04": ("not_needed", None, False, 6, "easy"),
        "S05": ("not_needed", None, False, 3, "detractor"),
        "S06": ("suppressed", None, False, 9, "promoter"),
        "S07": ("failed", None, False, 1, "dissatisfied"),
        "S08": ("pending", "csat_thanks", False, 5, "satisfied"),
        "S09": ("pending", "promoter_thanks", False, 10, "promoter"),   # asked 100 days ago
        "S10": ("pending", "promoter_thanks", False, 9, "promoter"),    # S01 asks P1 in this run
        "S11": ("pending", "promoter_referral", True, 9, "promoter"),   # the latest answer wins
    }
    assert d["S02"]["reason"] == "waiting until 2026-10-07 12:20 UTC for a corrected answer"
    assert d["S01"]["reason"] == "to send" and d["S01"]["send_key"] == "followup/S01"
    assert d["S04"]["reason"] == "no follow-up email for this answer (followups.rules.ces.easy has no template)"
    assert d["S05"]["reason"] == ("answered 2026-09-20 08:00, more than 7 days before this run "
                                  "(followups.max_answer_age_days)")
    assert d["S06"]["reason"] == "address suppressed (unsubscribe)"
    assert d["S07"]["reason"] == "the contact has no valid email address (src.contacts.email)"
    assert d["S03"]["due_at"] == datetime(2026, 10, 9, 8) and d["S03"]["locale"] == "pl"
    assert dict(res.by_status) == {"pending": 7, "not_needed": 2, "suppressed": 1, "failed": 1}
    # Cases: the detractor and the dissatisfied CSAT answer (even without an address); not the
    # too-old detractor, not S11 whose latest answer is a promoter.
    c = cases(warehouse)
    assert sorted(c) == ["C-S03", "C-S07"]
    assert (c["C-S03"]["status"], c["C-S03"]["owner_name"], c["C-S03"]["owner_email"], c["C-S03"]["escalation_level"]) == (
        "open", "Alice", "alice@example.com", 0)
    # Opened Wed 12:00 UTC; 48 SLA hours skipping the weekend in Warsaw: Fri 12:00 UTC.
    assert c["C-S03"]["due_at"] == datetime(2026, 10, 9, 12)
    assert history(warehouse, "C-S03") == [(1, "opened", None, "open")]


def test_latest_answer_wins_until_sent_then_updates_the_case_only(warehouse):
    _seed(warehouse)
    decide(warehouse, CFG, NOW, "run1")
    with warehouse.begin() as conn:  # the send step sent S03's apology
        conn.exec_driver_sql("UPDATE ops.followup_decisions SET status = 'sent', reason = 'sent', "
                             "sent_at = TIMESTAMP '2026-10-07 12:01:00' WHERE survey_id = 'S03'")
    later = NOW + timedelta(hours=1)
    answers(warehouse, [
        answer("S03", "nps", 9, datetime(2026, 10, 7, 12, 30)),   # after the apology went out
        answer("S02", "nps", 4, datetime(2026, 10, 7, 12, 10)),   # before its follow-up was sent
        answer("S04", "ces", 2, datetime(2026, 10, 7, 12, 15)),   # easy became high effort
    ])
    res = decide(warehouse, CFG, later, "run2")
    d = _view(decisions(warehouse))
    assert d["S03"] == ("sent", "detractor_apology", False, 9, "promoter")
    assert decisions(warehouse)["S03"]["changed_after_send"] == 1
    assert d["S02"] == ("pending", "detractor_apology", False, 4, "detractor")
    assert d["S04"] == ("pending", "ces_high_effort", False, 2, "high_effort")
    assert res.changed_after_send == 1 and res.cases_opened == 2 and res.cases_updated == 1
    c = cases(warehouse)
    assert sorted(c) == ["C-S02", "C-S03", "C-S04", "C-S07"]
    assert (c["C-S03"]["score"], c["C-S03"]["category"], c["C-S03"]["status"]) == (9, "promoter", "open")
    assert history(warehouse, "C-S03") == [(1, "opened", None, "open"), (2, "answer_changed", "open", "open")]


def test_rerun_changes_nothing(warehouse):
    _seed(warehouse)
    decide(warehouse, CFG, NOW, "run1")
    before = _view(decisions(warehouse))
    res = decide(warehouse, CFG, NOW, "run1")
    # Only the pending and failed decisions are looked at again, with the same outcome.
    assert res.considered == 8 and res.cases_opened == 0 and res.cases_updated == 0
    assert _view(decisions(warehouse)) == before
    assert sorted(cases(warehouse)) == ["C-S03", "C-S07"]
    assert history(warehouse, "C-S03") == [(1, "opened", None, "open")]


def test_referral_window_is_180_days(warehouse):
    _seed(warehouse)
    with warehouse.begin() as conn:  # P8's last referral ask: 181 days ago
        conn.exec_driver_sql("UPDATE ops.followup_decisions SET sent_at = TIMESTAMP '2026-04-09 11:00:00' "
                             "WHERE survey_id = 'S00'")
    decide(warehouse, CFG, NOW, "run1")
    assert _view(decisions(warehouse))["S09"] == ("pending", "promoter_referral", True, 10, "promoter")


def test_referral_without_else_template_is_not_needed(warehouse):
    _seed(warehouse)
    cfg = fconfig(rules={"nps": {"promoter": {"template": "promoter_referral", "referral": True},
                                 "passive": "passive_improve", "detractor": {"template": "detractor_apology", "case": True}}})
    decide(warehouse, cfg, NOW, "run1")
    d = decisions(warehouse)
    assert (d["S09"]["status"], d["S09"]["template"]) == ("not_needed", None)
    assert d["S09"]["reason"] == "asked to refer on 2026-06-29, within followups.referral_days (180)"


def test_the_category_rule_is_said_once():
    """Which score is which category lives in include/sql/marts/_categories.sql.j2 only; the marts'
    fact table and the follow-ups' answers both render it."""
    from types import SimpleNamespace

    from nps import SQL_DIR
    from nps.followups.decide import answers_sql
    from nps.marts import render_mart_sql

    hits = sorted(p.name for p in SQL_DIR.rglob("*") if p.is_file() and ">= 9 THEN 'promoter'" in p.read_text("utf-8"))
    assert hits == ["_categories.sql.j2"]
    rule = "WHEN i.survey_type = 'nps' AND r.score >= 9 THEN 'promoter'"
    assert rule in answers_sql(SimpleNamespace(sql_dir=SQL_DIR))
    assert rule in render_mart_sql(SQL_DIR / "marts" / "fct_survey_responses.sql")
