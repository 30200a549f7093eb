"""What an owner alert says (score, comment, role, ARR, earlier scores, churn-risk reasons), urgent
alerts for detractors on top-ARR accounts (an email of their own, exactly once), and staff emails in the
owner's language; on both warehouses."""

from __future__ import annotations

import email
from datetime import datetime, timedelta
from email import policy

from nps.email.outbox import OutboxTransport
from nps.followups.cases import churn_risk, escalate, owner_alerts
from nps.followups.decide import decide
from tests.cohorts.helpers import account, contact, load
from tests.followups.helpers import answer, answers, cases, fconfig, invitation

FRI = datetime(2026, 10, 9, 12)  # Friday 14:00 in Warsaw
CFG = fconfig(urgent_arr_threshold=100000, owner_locales={"Olek@Example.com": "pl"})
NBSP = "\u00a0"


def _setup(wh):
    big = {**account("A2", name="Big <Co>"), "arr": 500000.0, "owner_name": "Olek", "owner_email": "olek@example.com"}
    load(wh, "src.accounts", [account("A1", name="Smith & Sons"), big])
    load(wh, "src.contacts", [contact("P1", "A1", role="decision_maker"), contact("P2", "A2", role="influencer"),
                              contact("P3", "A2")])
    load(wh, "ops.survey_invitations", [
        invitation("S00", "P1", "A1", sent_at=datetime(2026, 6, 30)), invitation("S01", "P1", "A1"),
        invitation("S02", "P2", "A2"), invitation("S03", "P3", "A2", "csat")])
    answers(wh, [answer("S00", "nps", 8, datetime(2026, 7, 1, 9)),
                 answer("S01", "nps", 2, FRI - timedelta(hours=2), comment="Nobody <answered>"),
                 answer("S02", "nps", 3, FRI - timedelta(hours=2), comment="Za drogo & wolno"),
                 answer("S03", "csat", 1, FRI - timedelta(hours=2))])
    decide(wh, CFG, FRI, "run1")


def _risk_row(account_id: str, level: str, reasons: str) -> dict:
    return {"as_of": FRI, "risk_rank": 1, "account_id": account_id, "account_name": "x", "industry": "SaaS",
            "segment": "SMB", "region": "EMEA", "owner_name": "Alice", "arr": 1000.0, "nps_respondents": 1,
            "nps_mean_score": 2.0, "nps_category": "detractor", "last_response_at": FRI, "recent_detractor": True,
            "score_drop": False, "low_csat": True, "high_effort": False, "no_answer_two_cycles": False,
            "overdue_detractor_case": False, "risk_points": 2, "risk_level": level, "reasons": reasons,
            "arr_at_risk_short_term": 500.0, "arr_at_risk_long_term": 0.0, "arr_at_risk": 500.0}


def _msgs(folder):
    out = {}
    for p in sorted(folder.iterdir()):
        m = email.message_from_bytes(p.read_bytes(), policy=policy.default)
        out.setdefault(m["To"].addresses[0].addr_spec, []).append(m)
    return out


def test_alert_content_urgent_alone_and_polish_for_a_polish_owner(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    load(warehouse, "marts_blue.mart_churn_risk", [_risk_row("A1", "medium", "recent detractor, low CSAT")])
    box = OutboxTransport(tmp_path)
    res = owner_alerts(warehouse, CFG, box, now=FRI, run_id="run1", folder="f1")
    # Alice: one list (C-S01); Olek: the urgent C-S02 on its own, and his list (C-S03, CSAT is never urgent).
    assert (res.emails, res.cases, res.urgent, res.unrouted, res.confirmed) == (3, 3, 1, 0, 3)
    msgs = _msgs(tmp_path / "f1")
    (alice,) = msgs["alice@example.com"]
    assert alice["Subject"] == "1 new feedback case for your accounts: please call by Tue 2026-10-13 14:00 CEST"
    text = alice.get_body("plain").get_content()
    assert ("- C-S01 · Smith & Sons · Jo P1 · NPS 2 (detractor) · due Tue 2026-10-13 14:00 CEST\n"
            '  "Nobody <answered>"\n'
            "  role: decision maker · ARR 1,000 · earlier scores: NPS 8 (2026-07-01)\n"
            "  churn risk: medium: recent detractor, low CSAT") in text
    html = alice.get_body("html").get_content()
    assert "Nobody &lt;answered&gt;" in html and "Smith &amp; Sons" in html and "decision maker" in html
    urgent, listed = sorted(msgs["olek@example.com"], key=lambda m: not m["Subject"].startswith("PILNE"))
    assert urgent["Subject"] == ("PILNE: krytyczna ocena w Big <Co> (ARR 500 000): prosimy o telefon do "
                                 "wt. 2026-10-13 14:00 CEST")
    utext = urgent.get_body("plain").get_content()
    assert utext.startswith("Dzień dobry,\n")
    assert f"Krytyczna ocena od klienta z ARR co najmniej 100{NBSP}000" in utext
    assert ("- C-S02 · Big <Co> · Jo P2 · NPS 3 (krytyk) · termin wt. 2026-10-13 14:00 CEST\n"
            "  „Za drogo & wolno”\n"
            f"  rola: osoba wpływająca · ARR 500{NBSP}000 · wcześniejsze oceny: brak\n"
            "  ryzyko odejścia: brak w marts.mart_churn_risk (nie jest obecnym klientem)") in utext
    uhtml = urgent.get_body("html").get_content()
    assert 'lang="pl"' in uhtml and "Big &lt;Co&gt;" in uhtml and "Za drogo &amp; wolno" in uhtml
    assert listed["Subject"].startswith("Nowe sprawy z ankiet dla Twoich klientów (1)")
    assert "C-S03" in listed.get_body("plain").get_content() and "C-S02" not in listed.get_body("plain").get_content()
    ledger = {r["kind"]: int(r["n"]) for r in warehouse.query(
        "SELECT kind, COUNT(*) AS n FROM ops.message_ledger WHERE status = 'sent' GROUP BY kind")}
    assert ledger.get("urgent_alert") == 1 and ledger.get("alert") == 2
    assert cases(warehouse)["C-S02"]["owner_alert_key"].startswith("urgent/")
    # Exactly once: the rerun sends nothing.
    again = owner_alerts(warehouse, CFG, box, now=FRI, run_id="run1", folder="f1")
    assert (again.emails, again.urgent) == (0, 0) and len(list((tmp_path / "f1").iterdir())) == 3


def test_an_owners_urgent_cases_of_one_run_share_one_urgent_email(warehouse, tmp_path, monkeypatch):
    """Two urgent detractors of one owner in one run (a burst): one URGENT email listing both,
    before and apart from the owner's list, exactly once."""
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    big2 = {**account("A3", name="Huge Ltd"), "arr": 900000.0, "owner_name": "Ann", "owner_email": "ann@example.com"}
    big3 = {**account("A4", name="Mega SA"), "arr": 250000.0, "owner_name": "Ann", "owner_email": "ann@example.com"}
    load(warehouse, "src.accounts", [big2, big3])
    load(warehouse, "src.contacts", [contact("P5", "A3"), contact("P6", "A4"), contact("P7", "A4")])
    load(warehouse, "ops.survey_invitations", [invitation("S05", "P5", "A3"), invitation("S06", "P6", "A4"),
                                               invitation("S07", "P7", "A4")])
    answers(warehouse, [answer("S05", "nps", 0, FRI - timedelta(hours=2)), answer("S06", "nps", 4, FRI - timedelta(hours=2)),
                        answer("S07", "nps", 10, FRI - timedelta(hours=2))])
    decide(warehouse, CFG, FRI, "run1")
    box = OutboxTransport(tmp_path)
    res = owner_alerts(warehouse, CFG, box, now=FRI, run_id="run1", folder="f1")
    assert (res.emails, res.cases, res.urgent) == (1, 2, 2)
    (urgent,) = _msgs(tmp_path / "f1")["ann@example.com"]
    assert urgent["Subject"] == ("URGENT: 2 detractors on accounts with ARR of 100,000 or more: please call by "
                                 "Tue 2026-10-13 14:00 CEST")
    text = urgent.get_body("plain").get_content()
    assert "these 2 cases are sent to you at once, apart from your list" in text
    assert "- C-S05 · Huge Ltd" in text and "- C-S06 · Mega SA" in text
    keys = {c: r["owner_alert_key"] for c, r in cases(warehouse).items()}
    assert keys["C-S05"] == keys["C-S06"] and keys["C-S05"].startswith("urgent/")
    assert owner_alerts(warehouse, CFG, box, now=FRI, run_id="run2", folder="f1").emails == 0
    assert len(list((tmp_path / "f1").iterdir())) == 1


def test_without_the_churn_risk_mart_the_alert_says_so(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    assert churn_risk(warehouse, ["A1"]) is None  # the mart is empty: not built yet
    cfg = fconfig()  # no urgent threshold: Olek's detractor waits in his list, in English
    res = owner_alerts(warehouse, cfg, OutboxTransport(tmp_path), now=FRI, run_id="run1", folder="f1")
    assert (res.emails, res.urgent) == (2, 0)
    (olek,) = _msgs(tmp_path / "f1")["olek@example.com"]
    text = olek.get_body("plain").get_content()
    assert olek["Subject"].startswith("2 new feedback cases") and "Hi Olek," in text
    assert text.count("churn risk: not known: marts.mart_churn_risk is not built yet") == 2


def test_escalation_in_the_escalation_contacts_language(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    cfg = fconfig(escalation=[{"after_hours": 0, "email": "lead@example.com", "name": "Lea", "locale": "pl"}])
    tue = datetime(2026, 10, 13, 13)  # past the due time (Tue 12:00 UTC)
    res = escalate(warehouse, cfg, OutboxTransport(tmp_path), now=tue, run_id="run2", folder="f2")
    assert res.cases == 3
    subjects = sorted(m["Subject"] for m in _msgs(tmp_path / "f2")["lead@example.com"])
    assert subjects[0] == "Eskalacja poziomu 1: sprawa C-S01 (Smith & Sons) jest po terminie"


def test_owner_digest_in_each_owners_language(warehouse, tmp_path, monkeypatch):
    from nps.followups.cases import digest

    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _setup(warehouse)
    cfg = fconfig(owner_digest=True, owner_locales={"olek@example.com": "pl"})
    box = OutboxTransport(tmp_path)
    res = digest(warehouse, cfg, box, now=FRI, run_id="run1", folder="f1")
    assert (res.emails, res.cases) == (3, 3)  # the CS lead (no case overdue yet), Alice (1), Olek (2)
    msgs = _msgs(tmp_path / "f1")
    (alice,) = msgs["alice@example.com"]
    assert alice["Subject"] == "Your feedback cases 2026-10-09: 1 open, 0 overdue"
    assert "- C-S01 · Smith & Sons · Jo P1 · NPS 2 (detractor)" in alice.get_body("plain").get_content()
    (olek,) = msgs["olek@example.com"]
    assert olek["Subject"] == "Twoje sprawy z ankiet 2026-10-09: otwarte 2, po terminie 0"
    text = olek.get_body("plain").get_content()
    assert "C-S02 · Big <Co>" in text and "C-S03 · Big <Co>" in text and "Big &lt;Co&gt;" in olek.get_body("html").get_content()
    # Once per owner per local day.
    assert digest(warehouse, cfg, box, now=FRI + timedelta(hours=2), run_id="run2", folder="f2").ledger["already_sent"] == 3
