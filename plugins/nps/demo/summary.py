"""What the demo did, stage by stage, read back from the warehouse and the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from nps.config import ProgramConfig
from nps.warehouse import Warehouse

Say = Callable[[str], None]


def _rows(wh: Warehouse, sql: str) -> list[dict]:
    try:
        return wh.query(sql)
    except Exception:  # noqa: BLE001 - a stage whose tables do not exist prints nothing
        return []


def _fmt_pct(x) -> str:
    return "n/a" if x is None else f"{float(x):.1f}%"


def cohorts(wh: Warehouse, say: Say) -> None:
    r = _rows(
        wh,
        "SELECT COUNT(*) AS runs, SUM(due) AS due, SUM(due_relationship) AS rel, SUM(due_transactional) AS tx,"
        " SUM(churned) AS churned, SUM(no_consent) AS no_consent, SUM(suppressed) AS suppressed,"
        " SUM(fatigue) AS fatigue, SUM(relationship_wins) AS rel_wins, SUM(account_cap) AS cap,"
        " SUM(selected) AS selected FROM ops.cohort_runs",
    )
    if not r or not r[0]["runs"]:
        return
    c = {k: int(v or 0) for k, v in r[0].items()}
    say(f"1. cohorts      {c['runs']} daily intervals: {c['due']} due ({c['rel']} relationship, {c['tx']} transactional),")
    say(
        f"                {c['fatigue']} skipped for fatigue, {c['suppressed']} suppressed, {c['no_consent']} without consent, "
        f"{c['churned']} churned, {c['rel_wins']} relationship-wins, {c['cap']} over the account cap, "
        f"{c['selected']} selected"
    )


def invitations(wh: Warehouse, say: Say) -> None:
    rows = _rows(
        wh,
        "SELECT survey_type, program, locale, status, COUNT(*) AS n FROM ops.survey_invitations"
        " GROUP BY survey_type, program, locale, status ORDER BY survey_type, program, locale, status",
    )
    if not rows:
        return
    sent = sum(r["n"] for r in rows if r["status"] == "sent")
    other = {r["status"] for r in rows if r["status"] != "sent"}
    by_type: dict[str, int] = {}
    by_locale: dict[str, int] = {}
    for r in rows:
        if r["status"] == "sent":
            by_type[f"{r['survey_type'].upper()} {r['program']}"] = by_type.get(f"{r['survey_type'].upper()} {r['program']}", 0) + r["n"]
            by_locale[r["locale"]] = by_locale.get(r["locale"], 0) + r["n"]
    say(f"2. invitations  {sent} sent exactly once ({', '.join(f'{v} {k}' for k, v in sorted(by_type.items()))})")
    say(f"                by locale: {', '.join(f'{k} {v}' for k, v in sorted(by_locale.items()))}"
        + (f"; other ledger states: {', '.join(sorted(other))}" if other else ""))
    outbox = Path(os.environ.get("NPS_OUTBOX_DIR", ""))
    if outbox.is_dir():
        emls = sorted(p for p in outbox.rglob("*.eml") if not p.parent.name.startswith(("reports_", "followups_")))
        say(f"                outbox: {len(emls)} .eml files in {outbox}")
        by_name = {p.stem: p for p in emls}
        for loc in ("en", "pl"):
            keys = _rows(wh, "SELECT send_key FROM ops.survey_invitations WHERE status = 'sent' AND locale = '" + loc + "'"
                             " AND survey_type = 'nps' ORDER BY sent_at, send_key LIMIT 1")
            ex = by_name.get(keys[0]["send_key"].replace("/", "_")) if keys else None
            if ex:
                say(f"                example ({loc}): {ex}")
    d = _rows(wh, "SELECT delivery_status, COUNT(*) AS n FROM ops.survey_invitations WHERE delivery_status IS NOT NULL"
                  " GROUP BY delivery_status ORDER BY n DESC")
    if d:
        parts = ", ".join("{} {}".format(r["n"], r["delivery_status"]) for r in d)
        say(f"                delivery (from email events): {parts}")


def ingestion(wh: Warehouse, say: Say) -> None:
    r = _rows(
        wh,
        "SELECT kind, status, COUNT(*) AS files, SUM(rows_read) AS rd, SUM(rows_loaded) AS ld,"
        " SUM(rows_quarantined) AS q, SUM(rows_duplicate) AS dup, SUM(rows_security) AS sec"
        " FROM ops.ingest_files GROUP BY kind, status ORDER BY kind, status",
    )
    if not r:
        return
    for x in r:
        rd, ld, q, dup = (int(x[k] or 0) for k in ("rd", "ld", "q", "dup"))
        check = "ok" if rd == ld + q + dup else "MISMATCH"
        say(
            f"3. ingestion    {x['kind']}: {x['files']} files {x['status']}, {rd} rows read = {ld} loaded + {q} quarantined"
            f" ({int(x['sec'] or 0)} security findings) + {dup} duplicates [{check}]"
        )
    reasons = _rows(wh, "SELECT category, rule, COUNT(*) AS n FROM ops.quarantine GROUP BY category, rule ORDER BY n DESC, rule")
    if reasons:
        parts = ", ".join("{} {}".format(x["rule"], x["n"]) for x in reasons[:6])
        say(f"                quarantine by rule: {parts}")
    ex = _rows(wh, "SELECT path, line_number, reason FROM ops.quarantine ORDER BY path, line_number LIMIT 1")
    if ex:
        e = ex[0]
        say("                e.g. {} line {}: {}".format(e["path"], e["line_number"], e["reason"]))
    s = _rows(wh, "SELECT reason, COUNT(*) AS n FROM ops.suppressions GROUP BY reason ORDER BY n DESC")
    if s:
        parts = ", ".join("{} {}".format(x["n"], x["reason"]) for x in s)
        say(f"                suppressions added: {parts}")
    n = _rows(wh, "SELECT COUNT(*) AS n, COUNT(DISTINCT survey_id) AS surveys FROM ops.raw_responses")
    if n:
        say("                raw responses: {} rows for {} surveys".format(n[0]["n"], n[0]["surveys"]))


def marts(wh: Warehouse, config: ProgramConfig, say: Say) -> None:
    from nps.reports.headline import headline

    try:
        h = headline(wh, config)
    except Exception as err:  # noqa: BLE001
        say(f"4. marts        not available: {err}")
        return
    say("4. marts        headline figures (from marts.*)")
    for line in h.get("lines", []):
        say(f"                {line}")


def print_summary(wh: Warehouse, config: ProgramConfig, say: Say) -> None:
    say("what happened")
    cohorts(wh, say)
    invitations(wh, say)
    ingestion(wh, say)
    marts(wh, config, say)
