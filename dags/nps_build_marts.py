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
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from nps.assets import MARTS, RESPONSES
from nps.tasks import migrate_warehouse


@task
def build_staging(**context) -> dict[str, int]:
    """Rebuild every mart into the unpublished build schema as of the run's instant."""
    from nps import marts
    from nps.config import load_config
    from nps.hooks import get_warehouse

    wh = get_warehouse()
    try:
        return marts.build_staging(wh, marts.as_of_from_context(context), load_config())
    finally:
        wh.dispose()


@task
def audit_staging() -> list[str]:
    """Run the audit checks on the new build; fail without retrying when one finds rows."""
    from airflow.sdk.exceptions import AirflowFailException

    from nps import marts
    from nps.config import load_config
    from nps.hooks import get_warehouse

    wh = get_warehouse()
    try:
        return marts.audit(wh, load_config())
    except (marts.MartCheckError, marts.StagingIncompleteError) as err:
        raise AirflowFailException(str(err)) from err  # a retry would find the same: no retries
    finally:
        wh.dispose()


@task(outlets=[MARTS])
def publish_marts() -> dict[str, int]:
    """Point the marts views at the audited build in one transaction."""
    from nps import marts
    from nps.hooks import get_warehouse

    wh = get_warehouse()
    try:
        return marts.publish(wh)
    finally:
        wh.dispose()


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("30 5 * * *", timezone="UTC"), assets=RESPONSES),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,  # each run rebuilds everything: a missed day needs no catch-up run
    max_active_runs=1,
    tags=["nps", "marts"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def nps_build_marts():
    migrate_warehouse() >> build_staging() >> audit_staging() >> publish_marts()


nps_build_marts()
