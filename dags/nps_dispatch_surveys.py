"""
### nps_dispatch_surveys

Daily: select who is surveyed for the day's data interval and send each of them one invitation.

1. `migrate_warehouse`: validate the program config and bring the warehouse schema up to date;
   a config error, a bad warehouse URL or an unreachable warehouse fails here at once (no retries).
2. `select_cohort`: relationship contacts whose slot day in their industry's cycle is today, and
   contacts of touchpoint events that fell due (after each touchpoint's delay); minus churned
   accounts, no consent, suppressions, fatigue (across NPS, CSAT, CES), relationship-wins and the
   per-account cap. Stored per data interval in `ops.cohort_candidates` / `ops.cohort_runs`, so a
   rerun of the same interval reuses the same cohort. Logs "412 due, 57 skipped for fatigue, ...".
3. `send_invitations`: claim the cohort in the ledger `ops.survey_invitations`, reconcile
   uncertain sends from evidence, send the rest in batches (SendGrid, SMTP or the local outbox),
   mark them sent. Emits the `nps_invitations` asset. The task's "Sent emails" link opens the
   outbox folder or SendGrid's activity feed.

**Triggering by hand.** With a logical date, the run processes exactly the data interval Airflow
shows for it: the 24 hours ending at the logical date (`2026-10-06 06:00 UTC` → 10-05 06:00 ..
10-06 06:00, the interval of the scheduled run of 10-05). Without one (the Trigger form's
default), it processes the latest complete interval before the trigger time and logs which. To
redo a scheduled run, clear it: it keeps its interval. Either way a rerun of an interval sends
nothing twice.

**Params** (Trigger form):
- `dry_run` (boolean, default false): select the interval's cohort (stored, as a real run would),
  render every invitation that would go out and log the counts by template; claim nothing, send
  nothing. `send_invitations` then ends *skipped* (no `nps_invitations` event); its XCom holds the
  counts (`would_send`, `batches`, `by_template`).

Clearing or retrying any task never sends an invitation twice. On-call: see docs/dispatch.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, Param, dag

from nps.notifications import failure_notifier
from nps.operators import DispatchSurveysOperator, MigrateWarehouseOperator, SelectCohortOperator


@dag(
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    # Catching up would survey stale touchpoints weeks late; backfill explicitly when needed.
    catchup=False,
    max_active_runs=1,
    tags=["nps", "dispatch"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5),
                  "pool": "nps_warehouse",  # writers share the warehouse pool (scripts/airflow-pools.sh)
                  "on_failure_callback": failure_notifier()},  # README: On-call runbook
    params={
        "dry_run": Param(
            False,
            type="boolean",
            title="Dry run",
            description="Select and render the interval's invitations and report the counts; send nothing.",
        ),
    },
    doc_md=__doc__,
)
def nps_dispatch_surveys():
    (
        MigrateWarehouseOperator(task_id="migrate_warehouse")
        >> SelectCohortOperator(task_id="select_cohort")
        >> DispatchSurveysOperator(task_id="send_invitations", dry_run="{{ params.dry_run }}")
    )


nps_dispatch_surveys()
