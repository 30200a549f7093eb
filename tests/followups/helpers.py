"""Hand-built answers for follow-up tests: accounts, contacts, sent invitations and raw answers."""

from __future__ import annotations

from datetime import datetime
from itertools import count

from nps.config import parse_config
from tests.cohorts.helpers import CONFIG, account, contact, load

_seq = count(1)
FOLLOWUPS = {
    "timezone": "Europe/Warsaw",
    "respond_within_hours": 48,
    "settle_minutes": 30,
    "max_answer_age_days": 7,
    "referral_days": 180,
    "cs_lead": {"email": "lead@example.com", "name": "Lea Lead"},
    "escalation": [{"after_hours": 0, "email": "lead@example.com", "name": "Lea Lead"},
                   {"after_hours": 24, "email": "vp@example.com", "name": "Vera VP"}],
    "digest": [{"email": "lead@example.com", "name": "Lea Lead"}],
}


def fconfig(**followups):
    return parse_config({**CONFIG, "followups": {**FOLLOWUPS, **followups}})


def invitation(survey_id: str, contact_id: str, account_id: str, survey_type: str = "nps", locale: str = "en",
               sent_at: datetime = datetime(2026, 10, 1, 6)) -> dict:
    return {"send_key": f"k/{survey_id}", "survey_id": survey_id, "run_id": "r", "cycle": "2026-Q4",
            "program": "relationship", "survey_type": survey_type, "contact_id": contact_id, "account_id": account_id,
            "locale": locale, "status": "sent", "claimed_at": sent_at, "sent_at": sent_at, "interval_start": sent_at}


def answer(survey_id: str, survey_type: str, score: int, at: datetime, comment: str | None = None,
           locale: str | None = None) -> dict:
    n = next(_seq)
    return {"response_id": f"R{n:06d}", "survey_id": survey_id, "survey_type": survey_type, "score": score,
            "comment": comment, "responded_at": at, "locale": locale, "file_id": "f1", "source_line": n,
            "loaded_at": at}


def seed(wh, surveys: list[tuple[str, str, str, str]], *, accounts=None, contacts=None) -> None:
    """``surveys``: (survey_id, contact_id, survey_type, locale); contacts at account A1 unless given."""
    load(wh, "src.accounts", accounts or [account("A1", name="Smith & Sons")])
    if contacts is None:
        seen = {}
        for _, cid, _, loc in surveys:
            seen.setdefault(cid, contact(cid, "A1", locale=loc, first="Zoë" if loc == "pl" else "Jo"))
        contacts = list(seen.values())
    load(wh, "src.contacts", contacts)
    load(wh, "ops.survey_invitations", [invitation(s, c, next(x["account_id"] for x in contacts if x["contact_id"] == c), t, loc)
                                        for s, c, t, loc in surveys])


def answers(wh, rows: list[dict]) -> None:
    load(wh, "ops.raw_responses", rows)


def decisions(wh) -> dict[str, dict]:
    return {r["survey_id"]: r for r in wh.query("SELECT * FROM ops.followup_decisions ORDER BY survey_id")}


def cases(wh) -> dict[str, dict]:
    return {r["case_id"]: r for r in wh.query("SELECT * FROM ops.followup_cases ORDER BY case_id")}


def history(wh, case_id: str) -> list[tuple]:
    return [(r["seq"], r["event"], r["from_status"], r["to_status"])
            for r in wh.query("SELECT * FROM ops.followup_case_history WHERE case_id = :c ORDER BY seq", {"c": case_id})]


MON = datetime(2026, 10, 5, 10)  # Monday 12:00 in Warsaw
LATER = datetime(2026, 10, 20, 9)  # the contacts' next answers


def loop_scenario(wh, tmp_path, config) -> None:
    """The closing-the-loop scenario of the follow-up marts (set NPS_FAKE_NOW to MON first).

    Week of Mon 2026-10-05: four NPS detractors (S1, S5, S6, S7), a promoter (S2), a CSAT 1 (S3);
    their cases are due Wed 10-07 10:00 UTC. Owners act (case file): C-S5 after 2 h, C-S3 after 23 h,
    C-S6 after 25 h (all within the SLA), C-S7 after 96 h (late); C-S1 never (overdue, escalated).
    Week of 10-19: the contacts' next NPS answers S4 (P1: 9), S8 (P4: 7), S9 (P5: 4), S10 (P6: 10)."""
    from datetime import date

    from nps.email.outbox import OutboxTransport
    from nps.followups.cases import ingest_case_files
    from nps.followups.decide import decide
    from nps.followups.send import send_followups
    from nps.ingest.landing import Landing
    from nps.tokens import TokenSigner
    from tests.cohorts.helpers import contract

    seed(wh, [("S1", "P1", "nps", "en"), ("S2", "P2", "nps", "en"), ("S3", "P3", "csat", "en"),
              ("S5", "P4", "nps", "en"), ("S6", "P5", "nps", "en"), ("S7", "P6", "nps", "en"),
              ("S4", "P1", "nps", "en"), ("S8", "P4", "nps", "en"), ("S9", "P5", "nps", "en"),
              ("S10", "P6", "nps", "en")])
    load(wh, "src.contracts", [contract("K1", "A1", date(2025, 1, 1))])
    nine = datetime(2026, 10, 5, 9)
    answers(wh, [answer("S1", "nps", 3, nine), answer("S2", "nps", 10, nine), answer("S3", "csat", 1, nine),
                 answer("S5", "nps", 2, nine), answer("S6", "nps", 5, nine), answer("S7", "nps", 6, nine)])
    decide(wh, config, MON, "r1")
    send_followups(wh, config, TokenSigner("x" * 32), OutboxTransport(tmp_path), now=MON, run_id="r1", folder="f")
    lz = Landing(str(tmp_path / "landing"))
    (lz.root / "cases").mkdir(parents=True)
    (lz.root / "cases" / "crm.csv").write_text(
        "case_id,status,updated_at\n"
        "C-S3,in_progress,2026-10-06T08:00:00\n"
        "C-S5,in_progress,2026-10-05T11:00:00\n"
        "C-S6,resolved,2026-10-06T10:00:00\n"
        "C-S7,in_progress,2026-10-09T09:00:00\n", encoding="utf-8")
    ingest_case_files(wh, lz, now=datetime(2026, 10, 9, 10), run_id="r2")
    with wh.begin() as conn:
        wh.run_sql(conn, "UPDATE ops.followup_cases SET escalation_level = 1 WHERE case_id = 'C-S1'")
    answers(wh, [answer("S4", "nps", 9, LATER), answer("S8", "nps", 7, LATER), answer("S9", "nps", 4, LATER),
                 answer("S10", "nps", 10, LATER)])
    decide(wh, config, datetime(2026, 10, 20, 9, 5), "r3")  # decided, not yet sent; S9 opens a case
