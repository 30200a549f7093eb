"""The demo's KPI reports: after the marts build, run ``nps_kpi_reports_weekly`` for every week
and ``nps_kpi_reports_monthly`` for every month that ended in the simulated period (as backfills:
``dag.test`` with the run's logical date), then say where to open them."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

Say = Callable[[str], None]


def report_runs(start: date, end: date) -> list[tuple[str, datetime]]:
    """(DAG id, run time) of every weekly and monthly report whose period lies in [start, end)."""
    runs = []
    monday = start - timedelta(days=start.weekday()) + timedelta(days=7)
    while monday <= end:
        if monday - timedelta(days=7) >= start - timedelta(days=6):
            runs.append(("nps_kpi_reports_weekly", datetime(monday.year, monday.month, monday.day, 6, 30)))
        monday += timedelta(days=7)
    first = date(start.year, start.month, 1)
    while True:
        nxt = date(first.year + first.month // 12, first.month % 12 + 1, 1)
        if nxt > end:
            break
        if first >= date(start.year, start.month, 1) and nxt > start:
            runs.append(("nps_kpi_reports_monthly", datetime(nxt.year, nxt.month, nxt.day, 6, 30)))
        first = nxt
    return runs


def run_reports(runner, start: date, end: date, say: Say) -> None:
    """Run the report DAGs for the simulated period (``runner.run_dag``) and print one line each."""
    runs = report_runs(start, end)
    if not runs:
        say("reports     no week or month ended inside the simulated days: simulate at least a week for a report")
        return
    for dag_id, when in runs:
        if runner.run_dag(dag_id, when, when + timedelta(minutes=5)):
            say(f"reports     {dag_id} for the period ending {when:%Y-%m-%d}")


def summarise(say: Say) -> None:
    """What the report DAGs produced: the archive, its index and the report emails in the outbox."""
    from nps.reports.archive import reports_uri

    root = Path(reports_uri())
    metas = sorted(root.rglob("meta.json")) if root.is_dir() else []
    if not metas:
        return
    items = [json.loads(p.read_text(encoding="utf-8")) for p in metas]
    by_kind: dict[str, set[str]] = {}
    for m in items:
        by_kind.setdefault(m["kind"], set()).add(m["period_key"])
    kinds = "; ".join(f"{k} {', '.join(sorted(v))}" for k, v in sorted(by_kind.items()))
    say(f"6. reports      {len(items)} reports archived ({kinds})")
    outbox = Path(os.environ.get("NPS_OUTBOX_DIR", ""))
    emls = sorted(outbox.glob("reports_*/*.eml")) if outbox.is_dir() else []
    say(f"                {len(emls)} report emails in the outbox, one per report, period and recipient")
    for m in items:
        if m["kind"] == "monthly" and m["audience"] == "all":
            say(f"                e.g. {m['subject']}")
            break
    say(f"                open {root / 'index.html'}")
