"""
### nps_build_marts

Rebuilds the NPS, CSAT and CES marts in the warehouse whenever new responses land (asset
`nps_responses`) and every morning at 05:30 UTC, then emits the asset `nps_marts`.

Write, audit, publish: the marts are built as of the run's instant (data interval end, or the
asset event's time) into the build schema that is not published (`marts_blue` / `marts_green`):
incrementally (only the surveys, periods and accounts touched since the published build are
recomputed, the rest is carried forward from it), or in full when the mart logic or its config
changed, when there is no published build, or when asked (`full_rebuild`). Then the audit checks
run on it (NPS range, category counts, unique keys, no orphan responses, one fact row per answered
survey; for an incremental build, on the surveys it recomputed), and only then are the `marts.*`
views repointed to it in one transaction (on PostgreSQL in short, retried lock waits, so a long
dashboard query neither stalls other dashboards nor fails the run; on DuckDB the published marts
are then copied into the BI snapshot `bi_marts.duckdb`, what BI tools open instead of the
warehouse file). A failed check fails `audit_staging` with the check's
name and offending values and leaves the published marts in place: fix the data, then clear the
run. Clearing or rerunning any task is safe; late answers update their own period and the next
period's comparison in an incremental build too. See docs/marts.md (On-call: incremental builds).

**Triggering by hand.** Without a logical date the marts are built as of the trigger time; with
one, as of that instant.

**Params** (Trigger form):
- `publish` (boolean, default true): false builds and audits only and leaves the published marts
  untouched (to check a data fix against the audit first); `publish_marts` then ends *skipped*
  and no `nps_marts` event is emitted.
- `full_rebuild` (boolean, default false): true rebuilds every mart from all of history instead of
  incrementally (after fixing data an incremental build cannot see, or when an audit or a check
  against a full build found an incremental build wrong).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag

from nps.assets import RESPONSES
from nps.notifications import failure_notifier
from nps.operators import BuildMartsOperator, MigrateWarehouseOperator


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("30 5 * * *", timezone="UTC"), assets=RESPONSES),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # each run catches up on everything since the published build: no catch-up runs
    max_active_runs=1,
    tags=["nps", "marts"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5),
                  "pool": "nps_marts",  # one marts build at a time, whichever DAG runs it
                  "on_failure_callback": failure_notifier()},  # README: On-call runbook
    params={
        "publish": Param(
            True,
            type="boolean",
            title="Publish",
            description="Off: build and audit only; the published marts stay as they are.",
        ),
        "full_rebuild": Param(
            False,
            type="boolean",
            title="Full rebuild",
            description="On: rebuild every mart from all of history instead of only what changed.",
        ),
    },
    doc_md=__doc__,
)
def nps_build_marts():
    (
        MigrateWarehouseOperator(task_id="migrate_warehouse")
        >> BuildMartsOperator(task_id="build_staging", steps=["build"], full_rebuild="{{ params.full_rebuild }}")
        >> BuildMartsOperator(task_id="audit_staging", steps=["audit"])
        >> BuildMartsOperator(task_id="publish_marts", steps=["publish"], publish="{{ params.publish }}")
    )


nps_build_marts()
