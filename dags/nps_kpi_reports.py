"""
### nps_kpi_reports_weekly / _monthly / _quarterly

KPI reports by email, one DAG per cadence: the **weekly digest** (Mondays 06:30 UTC), the
**monthly report** (1st of the month, 06:30) and the **quarterly QBR pack** (1st of Jan, Apr, Jul,
Oct, 06:30), each after the morning marts build. Each run reports the period that **ended** in
its data interval (`CronDataIntervalTimetable`): the ISO week, month or quarter before the run,
never the wall clock. Backfilling an interval re-creates that period's report from the marts.

Tasks: `migrate_warehouse` → `render_and_archive` (scorecard, charts, HTML/text/CSV in every
recipient locale, archived under `NPS_REPORTS_URI` with an `index.html`) → (quarterly only, when
`reports.qbr.approval` is true: `approve_qbr_pack`, an approval in Browse → Required Actions;
Reject sends nothing) → `send_reports` (one email per report, period and recipient, exactly once).

**Params** (Trigger form):
- `resend` (default false): send again to recipients who already got this period's report. Without
  it, a rerun, a cleared task or a backfill re-renders and re-archives but sends nothing twice.
- `period_start`: the first day of the period to report (a Monday, the 1st of a month or of a
  quarter). Empty: the run's data interval; for a manual run without a logical date, the latest
  period that had ended when the published marts were built (the log says which).
- `only`: one audience: `all` (the company report), a `reports.segments` name, or `owners`
  (the QBR owner pages). Empty: everyone.
- `dry_run` (default false): render and archive, send nothing.

A malformed recipient address is skipped while everyone else gets the report; the task then fails
naming its config key. A report that could not be archived still goes out, saying so. See the
README, section "KPI reports".
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag, task

from nps.notifications import failure_notifier
from nps.operators import MigrateWarehouseOperator, RenderReportsOperator, SendReportsOperator

PARAMS = {
    "resend": Param(False, type="boolean", title="Resend",
                    description="Send again to recipients who already received this period's report. Off: a rerun or "
                                "backfill re-renders and re-archives but sends nothing twice."),
    "period_start": Param(None, type=["null", "string"], format="date", title="Period start",
                          description="First day of the period to report (a Monday, the 1st of a month or of a quarter). "
                                      "Empty: the run's data interval, or for a manual run the latest complete period in the marts."),
    "only": Param(None, type=["null", "string"], title="Only this audience",
                  description="'all' (company report), a reports.segments name (e.g. manufacturing), or 'owners' "
                              "(QBR owner pages). Empty: every audience."),
    "dry_run": Param(False, type="boolean", title="Dry run", description="Render and archive the reports; send nothing."),
}

_PERIOD = {"period_start": "{{ params.period_start }}", "only": "{{ params.only }}"}


@task.branch
def needs_approval() -> str:
    """Route the quarterly pack through the approval gate when reports.qbr.approval is true."""
    from nps.config import load_config

    return "approve_qbr_pack" if load_config().reports.qbr.approval else "send_reports"


def _reports_dag(kind: str, cron: str):
    @dag(
        dag_id=f"nps_kpi_reports_{kind}",
        schedule=CronDataIntervalTimetable(cron, timezone="UTC"),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,  # a new deployment must not email a year of old reports; backfill on purpose
        max_active_runs=1,
        tags=["nps", "reports"],
        default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5),
                      "pool": "nps_warehouse",  # reads and the ledger share the warehouse pool (scripts/airflow-pools.sh)
                      "on_failure_callback": failure_notifier()},  # README: On-call runbook
        params=PARAMS,
        doc_md=__doc__,
    )
    def reports():
        migrate = MigrateWarehouseOperator(task_id="migrate_warehouse")
        rendered = RenderReportsOperator(task_id="render_and_archive", kind=kind, **_PERIOD)
        send = SendReportsOperator(task_id="send_reports", kind=kind, resend="{{ params.resend }}",
                                   dry_run="{{ params.dry_run }}", **_PERIOD)
        if kind == "quarterly":
            from airflow.providers.standard.operators.hitl import ApprovalOperator

            gate = ApprovalOperator(
                task_id="approve_qbr_pack",
                subject="Approve the quarterly QBR pack before it is emailed",
                body="The pack is archived: open the archive's index.html (NPS_REPORTS_URI) and review it. "
                     "Approve sends it to every recipient; Reject sends nothing.",
                ignore_downstream_trigger_rules=True,
            )
            route = needs_approval()
            migrate >> rendered >> route >> [gate, send]
            gate >> send
        else:
            migrate >> rendered >> send

    return reports()


nps_kpi_reports_weekly = _reports_dag("weekly", "30 6 * * 1")
nps_kpi_reports_monthly = _reports_dag("monthly", "30 6 1 * *")
nps_kpi_reports_quarterly = _reports_dag("quarterly", "30 6 1 1,4,7,10 *")
