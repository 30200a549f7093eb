"""
### nps_dispatch_surveys

Daily: select who is surveyed for the day's data interval and send each of them one invitation.

1. `migrate_warehouse`: bring the warehouse schema up to date.
2. `select_cohort`: relationship contacts whose slot day in their industry's cycle is today, and
   contacts of touchpoint events that fell due (after each touchpoint's delay); minus churned
   accounts, no consent, suppressions, fatigue (across NPS, CSAT, CES), relationship-wins and the
   per-account cap. Stored per data interval in `ops.cohort_candidates` / `ops.cohort_runs`, so a
   rerun of the same interval reuses the same cohort. Logs "412 due, 57 skipped for fatigue, ...".
3. `send_invitations`: claim the cohort in the ledger `ops.survey_invitations`, reconcile
   uncertain sends from evidence, send the rest in batches (SendGrid, SMTP or the local outbox),
   mark them sent. Emits the `nps_invitations` asset.

Clearing or retrying any task never sends an invitation twice. On-call: see docs/dispatch.md.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag, task

from nps.assets import INVITATIONS
from nps.tasks import migrate_warehouse


@task
def select_cohort(data_interval_start=None, data_interval_end=None, run_id=None) -> dict:
    """Select (or reuse) the data interval's cohort and log its exclusion counts."""
    from nps.cohorts import select_cohort as select
    from nps.config import load_config
    from nps.hooks import get_warehouse

    wh = get_warehouse()
    try:
        summary = select(wh, load_config(), data_interval_start, data_interval_end, run_id)
    finally:
        wh.dispose()
    return summary.as_dict()


@task(outlets=[INVITATIONS])
def send_invitations(data_interval_start=None, run_id=None) -> dict:
    """Claim, reconcile and send the interval's invitations exactly once."""
    from airflow.sdk.exceptions import AirflowFailException

    from nps.config import load_config
    from nps.dispatch import DispatchFailed, dispatch_invitations
    from nps.email.transports import transport_from_airflow
    from nps.hooks import get_warehouse, token_secret
    from nps.tokens import TokenSigner

    config = load_config()
    wh = get_warehouse()
    try:
        result = dispatch_invitations(
            wh, config, TokenSigner(token_secret()), transport_from_airflow(config), data_interval_start, run_id
        )
    except DispatchFailed as err:
        raise AirflowFailException(str(err)) from None
    finally:
        wh.dispose()
    return result.as_dict()


@dag(
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    # Catching up would survey stale touchpoints weeks late; backfill explicitly when needed.
    catchup=False,
    max_active_runs=1,
    tags=["nps", "dispatch"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def nps_dispatch_surveys():
    migrate_warehouse() >> select_cohort() >> send_invitations()


nps_dispatch_surveys()
