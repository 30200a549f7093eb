"""
### nps_ingest_responses

Every 15 minutes: load the survey responses and SendGrid event batches that landed in the landing
area (`NPS_LANDING_URI`, default `data/landing`) into the warehouse.

1. `migrate_warehouse`: validate the config and bring the schema up to date (fails fast).
2. `landing_has_files`: a cheap listing of `responses/` and `events/`; when nothing waits it is
   skipped and so is the rest of the run (processed files leave the folder, so "a file is there"
   means "new work").
3. `ingest_events`: webhook batches → `ops.email_events` (deduplicated), delivery state on the
   ledger, `ops.suppressions`.
4. `ingest_responses`: CSV / JSONL files in chunks → token check, Great Expectations validation →
   `ops.raw_responses`, `ops.quarantine`, one audit row per file in `ops.ingest_files`
   (rows read = loaded + quarantined + duplicates, checked by the task).
5. `publish_responses`: the `nps_responses` asset is emitted only when at least one new response
   was loaded (the task skips itself otherwise), so the marts rebuild only when there is something new.
6. `check_rejected_files`: a file that could not be parsed at all is moved to `rejected/` with its
   reason while the others load; this task then **fails** naming it, so the run shows red in the
   UI. Fix the file and drop it again (see docs/ingestion.md); retrying this task does not help.

Every file version (path + checksum) is ingested once, so clearing or rerunning a run loads
nothing twice. Polling every 15 minutes is the "new files" trigger: no queue, no sensor slot.

**Triggering by hand**, with or without a logical date: the run takes whatever waits in the
landing area; the logical date changes nothing. **Params:** none (nothing to choose: every waiting
file is loaded exactly once).
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag

from nps.notifications import failure_notifier
from nps.operators import (
    CheckRejectedFilesOperator,
    IngestEventsOperator,
    IngestResponsesOperator,
    LandingHasFilesOperator,
    MigrateWarehouseOperator,
    PublishResponsesOperator,
)


@dag(
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # each run takes whatever waits; past intervals have nothing of their own
    max_active_runs=1,
    tags=["nps", "ingest"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=2),
                  "pool": "nps_warehouse",  # writers share the warehouse pool (scripts/airflow-pools.sh)
                  "on_failure_callback": failure_notifier()},  # README: On-call runbook
    doc_md=__doc__,
)
def nps_ingest_responses():
    events = IngestEventsOperator(task_id="ingest_events")
    responses = IngestResponsesOperator(task_id="ingest_responses")
    # One writer at a time (DuckDB): events, then responses.
    MigrateWarehouseOperator(task_id="migrate_warehouse") >> LandingHasFilesOperator(task_id="landing_has_files") >> events
    events >> responses >> PublishResponsesOperator(task_id="publish_responses", responses_task_id="ingest_responses")
    [events, responses] >> CheckRejectedFilesOperator(task_id="check_rejected_files", task_ids=["ingest_events", "ingest_responses"])


nps_ingest_responses()
