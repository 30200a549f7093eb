"""
### nps_ingest_responses

Every 15 minutes: load the survey responses and SendGrid event batches that landed in the landing
area (`NPS_LANDING_URI`, default `data/landing`) into the warehouse.

1. `migrate_warehouse`: bring the schema up to date.
2. `landing_has_files`: a cheap listing of `responses/` and `events/`; when nothing waits the rest
   of the run is skipped (processed files leave the folder, so "a file is there" means "new work").
3. `ingest_events`: webhook batches → `ops.email_events` (deduplicated), delivery state on the
   ledger, `ops.suppressions`.
4. `ingest_responses`: CSV / JSONL files in chunks → token check, Great Expectations validation →
   `ops.raw_responses`, `ops.quarantine`, one audit row per file in `ops.ingest_files`
   (rows read = loaded + quarantined + duplicates, checked by the task).
5. `new_responses_landed` → `publish_responses`: the `nps_responses` asset is emitted only when at
   least one new response was loaded (a short-circuit skips the publishing task otherwise), so
   the marts rebuild only when there is something new.
6. `check_rejected_files`: a file that could not be parsed at all is moved to `rejected/` with its
   reason while the others load; this task then **fails** naming it, so the run shows red in the
   UI. Fix the file and drop it again (see docs/ingestion.md); retrying this task does not help.

Every file version (path + checksum) is ingested once, so clearing or rerunning a run loads
nothing twice. Polling every 15 minutes is the "new files" trigger: no queue, no sensor slot.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

from nps.assets import RESPONSES
from nps.tasks import migrate_warehouse


@task.short_circuit
def landing_has_files() -> bool:
    """Skip the run when nothing waits in the landing area."""
    from nps.ingest.landing import Landing

    landing = Landing()
    landing.ensure()
    return landing.has_pending()


@task
def ingest_events() -> list[dict]:
    """Load SendGrid event batches: events, delivery state, suppressions."""
    from nps.hooks import get_warehouse
    from nps.ingest.events import ingest_events as run
    from nps.ingest.landing import Landing

    wh = get_warehouse()
    try:
        return [r.as_dict() for r in run(wh, Landing())]
    finally:
        wh.dispose()


@task
def ingest_responses() -> list[dict]:
    """Load response files: verify tokens, validate with GX, quarantine, audit."""
    from nps.config import load_config
    from nps.hooks import get_warehouse, token_secret
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses as run

    wh = get_warehouse()
    try:
        return [r.as_dict() for r in run(wh, Landing(), secret=token_secret(), config=load_config())]
    finally:
        wh.dispose()


@task.short_circuit
def new_responses_landed(results: list[dict]) -> bool:
    """Continue to publishing only when new responses were loaded."""
    return sum(r["rows_loaded"] for r in results) > 0


@task(outlets=[RESPONSES])
def publish_responses(results: list[dict]) -> int:
    """Emit the nps_responses asset so the marts rebuild."""
    return sum(r["rows_loaded"] for r in results)


@task
def check_rejected_files(events: list[dict], responses: list[dict]) -> int:
    """Fail, naming them, when files were set aside as unparseable."""
    from airflow.sdk.exceptions import AirflowFailException

    from nps.ingest.summary import rejected_message

    message = rejected_message(events + responses)
    if message:
        raise AirflowFailException(message)
    return len(events) + len(responses)


@dag(
    schedule=CronTriggerTimetable("*/15 * * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # each run takes whatever waits; past intervals have nothing of their own
    max_active_runs=1,
    tags=["nps", "ingest"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=2)},
    doc_md=__doc__,
)
def nps_ingest_responses():
    check = landing_has_files()
    events = ingest_events()
    responses = ingest_responses()
    migrate_warehouse() >> check >> events >> responses  # one writer at a time (DuckDB)
    new_responses_landed(responses) >> publish_responses(responses)
    check_rejected_files(events, responses)


nps_ingest_responses()
