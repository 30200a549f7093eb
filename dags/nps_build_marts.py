"""
### nps_build_marts

Rebuilds the NPS, CSAT and CES marts in the warehouse whenever new responses land (asset
`nps_responses`) and every morning at 05:30 UTC, then emits the asset `nps_marts`.

Write, audit, publish: every mart is rebuilt in full from the raw tables as of the run's instant
(data interval end, or the asset event's time) into the build schema that is not published
(`marts_blue` / `marts_green`), the audit checks run on it (NPS range, category counts, unique
keys, no orphan responses, one fact row per answered survey), and only then are the `marts.*`
views repointed to it in one transaction. A failed check fails `audit_staging` with the check's
name and offending values and leaves the published marts in place: fix the data, then clear the
run. Clearing or rerunning any task is safe; a full rebuild treats late answers like any other.
See docs/marts.md.

**Triggering by hand.** Without a logical date the marts are built as of the trigger time; with
one, as of that instant. Every build is a full rebuild, so there is no "full rebuild" switch.

**Params** (Trigger form):
- `publish` (boolean, default true): false builds and audits only and leaves the published marts
  untouched (to check a data fix against the audit first); `publish_marts` then ends *skipped*
  and no `nps_marts` event is emitted.
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
    catchup=False,  # each run rebuilds everything: a missed day needs no catch-up run
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
    },
    doc_md=__doc__,
)
def nps_build_marts():
    (
        MigrateWarehouseOperator(task_id="migrate_warehouse")
        >> BuildMartsOperator(task_id="build_staging", steps=["build"])
        >> BuildMartsOperator(task_id="audit_staging", steps=["audit"])
        >> BuildMartsOperator(task_id="publish_marts", steps=["publish"], publish="{{ params.publish }}")
    )


nps_build_marts()
