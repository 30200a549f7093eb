"""The demo's closing of the loop: account owners who act on some of their cases (a CRM export
dropped in the landing area's ``cases/`` folder), and what the loop did, read from the warehouse."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from nps.warehouse import Warehouse

Say = Callable[[str], None]


def _pick(case_id: str, salt: str, share: float) -> bool:
    h = int(hashlib.sha256(f"{salt}|{case_id}".encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < share


def owners_act(wh: Warehouse, landing_root: str | Path, now: datetime, *, first: bool) -> int:
    """Write one CRM export: owners start on most open cases and resolve most cases in progress;
    the first export also carries a line for a case the program never opened (quarantined)."""
    rows = wh.query("SELECT case_id, status FROM ops.followup_cases WHERE status <> 'resolved' ORDER BY case_id")
    lines = ["case_id,status,note,updated_at,updated_by"]
    for r in rows:
        if r["status"] == "open" and _pick(r["case_id"], "start", 0.6):
            lines.append(f"{r['case_id']},in_progress,called the customer,{now:%Y-%m-%dT%H:%M:%S},owner")
        elif r["status"] == "in_progress" and _pick(r["case_id"], "fix", 0.7):
            lines.append(f"{r['case_id']},resolved,root cause fixed; customer informed,{now:%Y-%m-%dT%H:%M:%S},owner")
    if first:
        lines.append(f"C-UNKNOWN-001,resolved,typo in the CRM,{now:%Y-%m-%dT%H:%M:%S},owner")
    folder = Path(landing_root) / "cases"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"crm-export-{now:%Y-%m-%dT%H%M}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return len(lines) - 1


def _pct(a: int, b: int) -> str:
    return f"{100.0 * a / b:.1f}%" if b else "n/a"


def _rows(wh: Warehouse, sql: str) -> list[dict]:
    try:
        return wh.query(sql)
    except Exception:  # noqa: BLE001 - before the first run the tables may be empty or missing
        return []


def summarise(wh: Warehouse, outbox: str | Path, say: Say) -> None:
    """Section 6 of the demo's summary: decisions, follow-ups, cases, alerts, escalations, SLA."""
    dec = _rows(wh, "SELECT status, COUNT(*) AS n FROM ops.followup_decisions GROUP BY status ORDER BY status")
    if not dec:
        return
    total = sum(int(r["n"]) for r in dec)
    say(f"5. closing the loop  {total} counted answers, each with a recorded decision: "
        + ", ".join(f"{int(r['n'])} {r['status'].replace('_', ' ')}" for r in dec))
    cat = _rows(wh, "SELECT survey_type, category, COUNT(*) AS n, SUM(CASE WHEN status = 'sent' THEN 1 ELSE 0 END) AS sent "
                    "FROM ops.followup_decisions GROUP BY survey_type, category ORDER BY survey_type, category")
    say("                follow-ups by category (sent / answers): "
        + ", ".join(f"{r['survey_type'].upper()} {r['category'].replace('_', ' ')} {int(r['sent'])}/{int(r['n'])}" for r in cat))
    tmpl = _rows(wh, "SELECT template, locale, COUNT(*) AS n FROM ops.followup_decisions WHERE status = 'sent' "
                     "GROUP BY template, locale ORDER BY template, locale")
    say("                emails by template: " + ", ".join(f"{r['template']}.{r['locale']} {int(r['n'])}" for r in tmpl))
    why = _rows(wh, "SELECT reason, COUNT(*) AS n FROM ops.followup_decisions WHERE status IN ('not_needed', 'suppressed', "
                    "'failed') GROUP BY reason ORDER BY COUNT(*) DESC, reason LIMIT 3")
    for r in why:
        say(f"                  {int(r['n'])} × {r['reason']}")
    ref = _rows(wh, "SELECT COUNT(*) AS n FROM ops.followup_decisions WHERE status = 'sent' AND referral_ask")
    changed = _rows(wh, "SELECT COALESCE(SUM(changed_after_send), 0) AS n FROM ops.followup_decisions")
    say(f"                promoters asked to refer: {int(ref[0]['n'])}; answers changed after their follow-up "
        f"(case updated, no second email): {int(changed[0]['n'])}")
    cases = _rows(wh, "SELECT status, COUNT(*) AS n FROM ops.followup_cases GROUP BY status ORDER BY status")
    esc = _rows(wh, "SELECT escalation_level AS lvl, COUNT(*) AS n FROM ops.followup_cases WHERE escalation_level > 0 "
                    "GROUP BY escalation_level ORDER BY escalation_level")
    say(f"                cases: {sum(int(r['n']) for r in cases)} opened ("
        + ", ".join(f"{int(r['n'])} {r['status'].replace('_', ' ')}" for r in cases) + "); escalated: "
        + (", ".join(f"{int(r['n'])} to level {int(r['lvl'])}" for r in esc) or "none"))
    kinds = _rows(wh, "SELECT kind, COUNT(*) AS n FROM ops.message_ledger WHERE status = 'sent' AND kind IN "
                      "('followup', 'alert', 'escalation', 'digest') GROUP BY kind ORDER BY kind")
    say("                emails through the ledger: " + ", ".join(f"{int(r['n'])} {r['kind']}" for r in kinds))
    digests = sorted(Path(outbox).glob("followups_*/digest_*.eml"))
    if digests:
        say(f"                example digest: {digests[-1]}")
    files = _rows(wh, "SELECT COUNT(*) AS files, SUM(rows_read) AS r, SUM(rows_loaded) AS a, SUM(rows_quarantined) AS q, "
                      "SUM(rows_duplicate) AS d FROM ops.ingest_files WHERE kind = 'cases'")
    if files and files[0]["files"]:
        f = {k: int(v or 0) for k, v in files[0].items()}
        say(f"                case files: {f['files']} CRM exports, {f['r']} rows read = {f['a']} applied + "
            f"{f['q']} quarantined + {f['d']} duplicates")
        for q in _rows(wh, "SELECT reason FROM ops.quarantine WHERE kind = 'cases' ORDER BY path, line_number LIMIT 1"):
            say(f"                  quarantined: {q['reason']}")
    res = _rows(wh, "SELECT case_id, resolution, resolved_at FROM ops.followup_cases WHERE status = 'resolved' "
                    "ORDER BY resolved_at, case_id LIMIT 1")
    if res:
        say(f"                e.g. {res[0]['case_id']} resolved by a case file on {res[0]['resolved_at']:%Y-%m-%d}: "
            f"{res[0]['resolution']}")
    # All-time totals: the counts of one grain's rows add up (every answer is in exactly one week).
    sla = _rows(wh, "SELECT SUM(cases_opened) AS n, SUM(cases_within_sla) AS met, SUM(cases_sla_measured) AS judged, "
                    "SUM(within_sla) AS ok, SUM(sla_measured) AS on_n FROM marts.mart_followups WHERE period_grain = 'week'")
    rec = _rows(wh, "SELECT contacted_within_sla AS in_sla, SUM(recovered) AS rec, SUM(with_next_answer) AS next_n "
                    "FROM marts.mart_loop_recovery WHERE period_grain = 'week' GROUP BY contacted_within_sla")
    if sla and sla[0]["n"]:
        s = {k: int(v or 0) for k, v in sla[0].items()}
        r = {bool(x["in_sla"]): (int(x["rec"] or 0), int(x["next_n"] or 0)) for x in rec}

        def recovery(in_sla: bool) -> str:
            k, n = r.get(in_sla, (0, 0))
            return f"{_pct(k, n)} of {n}" if n else "n/a (no later answer yet)"

        say(f"                SLA (marts): answers followed up on time {_pct(s['ok'], s['on_n'])} of {s['on_n']}; cases "
            f"acted on by their due time {_pct(s['met'], s['judged'])} of {s['judged']}; recovered at the next answer: "
            f"cases acted on within the SLA {recovery(True)}, late or never {recovery(False)}")
    root = Path(outbox)
    alerts = sorted(root.glob("followups_*/alert_*.eml"))
    fol = sorted(root.glob("followups_*/followup_*.eml"))
    escs = sorted(root.glob("followups_*/escalation_*.eml"))
    if fol:
        say(f"                example follow-up: {fol[0]}")
    if alerts:
        say(f"                example owner alert: {alerts[0]}")
    if escs:
        say(f"                example escalation: {escs[0]}")
