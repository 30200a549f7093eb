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
