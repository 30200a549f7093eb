"""The follow-up decision for every counted answer, and the cases it opens.

Each run looks at the surveys whose latest answer has no decision yet, changed since its decision,
or whose decision is still pending or failed (``followups/answers.sql``), and records one decision
per survey in ``ops.followup_decisions``:

- ``not_needed``: the rule for the answer's category sends no email, or the answer is older than
  ``followups.max_answer_age_days`` (a first run or a backfill does not email old answers), or a
  promoter was asked to refer within ``referral_days`` and the rule has no other template;
- ``suppressed``: the address is in ``ops.suppressions`` (the reason is kept);
- ``failed``: the contact has no usable address (or, later, the provider rejected the email);
- ``pending``: to send; sent once the answer has settled for ``settle_minutes`` (a corrected
  answer wins: the decision is taken again from the latest answer until the email is sent);
- ``sent``: set by the send step (``nps.followups.send``) from the ledger.

Once the email is sent a changed answer sends nothing more: the decision keeps what was sent and
counts the change (``changed_after_send``), and the case (if any) takes the new answer. A rule
with ``case: true`` opens a case for the account owner (``ops.followup_cases``), with its due
time on the SLA clock (``nps.followups.sla``) and an ``opened`` history row.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nps.config import FollowupRule, ProgramConfig
from nps.followups.sla import add_hours
from nps.warehouse import LIST_CHUNK, Warehouse, holding

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;]+$")
STATUSES = ("pending", "sent", "suppressed", "not_needed", "failed")


def send_key(survey_id: str) -> str:
    return f"followup/{survey_id}"


def case_id(survey_id: str) -> str:
    return f"C-{survey_id}"


@dataclass
class DecideResult:
    considered: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_reason: Counter = field(default_factory=Counter)
    changed_after_send: int = 0
    cases_opened: int = 0
    cases_updated: int = 0
    would_send: Counter = field(default_factory=Counter)  # settled pending decisions by template.locale

    def as_dict(self) -> dict[str, Any]:
        return {"considered": self.considered, "by_status": dict(self.by_status), "by_reason": dict(self.by_reason),
                "changed_after_send": self.changed_after_send, "cases_opened": self.cases_opened,
                "cases_updated": self.cases_updated,
                "would_send": dict(sorted(self.would_send.items()))}


def answers_sql(wh: Warehouse) -> str:
    """``followups/answers.sql`` rendered through Jinja2 with the marts' category rule
    (``include/sql/marts/_categories.sql.j2``): one rule for the marts and the follow-ups."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(wh.sql_dir / "followups"), str(wh.sql_dir / "marts")]),
        undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        autoescape=False,  # noqa: S701 - SQL text from the repository, not HTML
    )
    return env.get_template("answers.sql").render()


def _decide_one(a: dict[str, Any], config: ProgramConfig, now: datetime, referral_seen: dict[str, datetime],
                rule: FollowupRule | None) -> tuple[str, str, str | None, bool]:
    """(status, reason, template, referral_ask) for one answer that has no sent follow-up."""
    f = config.followups
    rule_key = f"followups.rules.{a['survey_type']}.{a['category']}"
    if a["responded_at"] < now - timedelta(days=f.max_answer_age_days):
        return "not_needed", (f"answered {a['responded_at']:%Y-%m-%d %H:%M}, more than "
                              f"{f.max_answer_age_days} days before this run (followups.max_answer_age_days)"), None, False
    if rule is None or not rule.template:
        return "not_needed", f"no follow-up email for this answer ({rule_key} has no template)", None, False
    if a["suppression"]:
        return "suppressed", f"address suppressed ({a['suppression']})", None, False
    if not a["email"] or not _EMAIL.match(str(a["email"]).strip()):
        return "failed", "the contact has no valid email address (src.contacts.email)", None, False
    template, referral = rule.template, rule.referral
    if rule.referral:
        last = referral_seen.get(a["contact_id"])
        if last is not None and last > now - timedelta(days=f.referral_days):
            if not rule.else_template:
                return "not_needed", (f"asked to refer on {last:%Y-%m-%d}, within followups.referral_days "
                                      f"({f.referral_days})"), None, False
            template, referral = rule.else_template, False
    settle = a["responded_at"] + timedelta(minutes=f.settle_minutes)
    if settle > now:
        return "pending", f"waiting until {settle:%Y-%m-%d %H:%M} UTC for a corrected answer", template, referral
    return "pending", "to send", template, referral


@holding
def decide(wh: Warehouse, config: ProgramConfig, now: datetime, run_id: str, *, since: datetime | None = None,
           dry_run: bool = False) -> DecideResult:
    """Decide the follow-up of every answer that needs it (see the module doc); returns the counts.

    ``dry_run`` decides and counts (``would_send`` by template) but writes nothing."""
    import pandas as pd

    f = config.followups
    result = DecideResult()
    rows = wh.query(answers_sql(wh), {"now": now, "since": since})
    result.considered = len(rows)
    if not rows:
        return result
    referral_seen: dict[str, datetime] = {
        r["contact_id"]: r["last_asked"]
        for r in wh.query(wh.read_sql("followups/referrals"), {"since": now - timedelta(days=f.referral_days)})
    }
    rules: dict[tuple[str, str], FollowupRule | None] = {}
    case_due = add_hours(now, f.sla.case_hours, f.timezone, f.sla.skip_weekends)  # every case opens now
    decisions: list[dict[str, Any]] = []
    new_cases: list[dict[str, Any]] = []
    case_updates: list[dict[str, Any]] = []
    history: list[dict[str, Any]] = []
    for a in rows:  # oldest answer first: of two promoter answers of one contact, the first asks to refer
        sid = a["survey_id"]
        rule_of = (a["survey_type"], a["category"])
        if rule_of not in rules:
            rules[rule_of] = f.rule(*rule_of)
        rule = rules[rule_of]
        base = {
            "survey_id": sid, "response_id": a["response_id"], "survey_type": a["survey_type"], "score": int(a["score"]),
            "category": a["category"], "responded_at": a["responded_at"], "contact_id": a["contact_id"],
            "account_id": a["account_id"], "locale": a["locale"] or config.program.default_locale,
            "rule": f"{a['survey_type']}.{a['category']}", "send_key": send_key(sid),
            "due_at": a["responded_at"] + timedelta(hours=f.respond_within_hours),
            "decided_at": a["decided_at"] or now, "updated_at": now, "sent_at": None,
            "changed_after_send": int(a["changed_after_send"] or 0), "run_id": run_id,
        }
        if a["decided_status"] == "sent":
            # The email went out about an earlier answer: record the change, send nothing more.
            result.changed_after_send += 1
            base.update(template=a["decided_template"], referral_ask=bool(a["decided_referral_ask"]), status="sent",
                        reason=a["decided_reason"], sent_at=a["decided_sent_at"], rule=a["decided_rule"],
                        changed_after_send=base["changed_after_send"] + 1)
            decisions.append(base)
            result.by_status["sent"] += 1
        else:
            status, reason, template, referral = _decide_one(a, config, now, referral_seen, rule)
            if referral and status == "pending":
                referral_seen[a["contact_id"]] = now
            base.update(status=status, reason=reason, template=template, referral_ask=referral)
            decisions.append(base)
            result.by_status[status] += 1
            result.by_reason[reason if status != "pending" or reason == "to send" else "settling"] += 1
            if reason == "to send":
                result.would_send[f"{template}.{base['locale']}"] += 1
        # Cases: the case takes the latest answer; a case-worthy answer opens one.
        too_old = a["responded_at"] < now - timedelta(days=f.max_answer_age_days)
        answer_changed = a["decided_response_id"] is not None and a["decided_response_id"] != a["response_id"]
        if a["case_id"]:
            if not answer_changed:
                continue  # a pending or failed decision looked at again: the case has this answer already
            case_updates.append({"case_id": a["case_id"], "score": int(a["score"]), "category": a["category"],
                                 "comment": a["comment"], "now": now})
            history.append({"case_id": a["case_id"], "happened_at": now, "event": "answer_changed", "from_status": a["case_status"],
                            "to_status": a["case_status"], "detail": f"latest answer {a['score']} ({a['category']})",
                            "source": f"run {run_id}"})
        elif rule is not None and rule.case and not too_old:
            cid = case_id(sid)
            opened, due = now, case_due
            new_cases.append({
                "case_id": cid, "survey_id": sid, "account_id": a["account_id"], "contact_id": a["contact_id"],
                "owner_name": a["owner_name"], "owner_email": a["owner_email"], "survey_type": a["survey_type"],
                "score": int(a["score"]), "category": a["category"], "comment": a["comment"], "status": "open",
                "opened_at": opened, "due_at": due, "escalation_level": 0, "escalated_at": None,
                "owner_alerted_at": None, "owner_alert_key": None, "first_action_at": None, "resolved_at": None, "resolution": None,
                "updated_at": now,
            })
            history.append({"case_id": cid, "happened_at": now, "event": "opened", "from_status": None, "to_status": "open",
                            "detail": f"{a['survey_type']} answer {a['score']} ({a['category']}); due {due:%Y-%m-%d %H:%M} UTC",
                            "source": f"run {run_id}"})
    result.cases_opened, result.cases_updated = len(new_cases), len(case_updates)
    if dry_run:
        return result
    stage_id = f"decide.{uuid.uuid4().hex[:12]}"
    df = pd.DataFrame(decisions)
    df.insert(0, "stage_id", stage_id)
    with wh.begin() as conn:
        wh.load_df(conn, "ops.followup_decisions_stage", df)
        wh.run_file(conn, "followups/apply_decisions", {"stage_id": stage_id})
        if new_cases:
            wh.load_df(conn, "ops.followup_cases", pd.DataFrame(new_cases))
        for u in case_updates:
            wh.run_file(conn, "followups/case_answer_changed", u)
        if history:
            append_history(wh, conn, history)
    log.info("follow-up decisions for %d answers: %s; %d changed after the email was sent; %d cases opened, %d updated",
             result.considered, dict(result.by_status), result.changed_after_send, result.cases_opened,
             result.cases_updated)
    return result


def append_history(wh: Warehouse, conn, rows: list[dict[str, Any]]) -> None:
    """Append case history rows, numbering each case's rows after its last one (in one transaction)."""
    import pandas as pd
    import sqlalchemy as sa

    ids = sorted({r["case_id"] for r in rows})
    last: dict[str, int] = {}
    stmt = sa.text("SELECT case_id, MAX(seq) AS seq FROM ops.followup_case_history "
                   "WHERE case_id IN (SELECT UNNEST(CAST(:ids AS VARCHAR[]))) GROUP BY case_id")
    for i in range(0, len(ids), LIST_CHUNK):
        for cid, seq in conn.execute(stmt, {"ids": ids[i:i + LIST_CHUNK]}):
            last[cid] = int(seq)
    out = []
    for r in rows:
        last[r["case_id"]] = last.get(r["case_id"], 0) + 1
        out.append({**r, "seq": last[r["case_id"]]})
    wh.load_df(conn, "ops.followup_case_history", pd.DataFrame(out),
               columns=["case_id", "seq", "happened_at", "event", "from_status", "to_status", "detail", "source"])


__all__ = ["STATUSES", "DecideResult", "append_history", "case_id", "decide", "send_key"]
