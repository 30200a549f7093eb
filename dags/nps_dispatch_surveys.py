"""
### nps_dispatch_surveys

Daily: select who is surveyed for the day's data interval and send each of them one invitation.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronDataIntervalTimetable, dag

from nps.tasks import migrate_warehouse


@dag(
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="UTC"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nps", "dispatch"],
    default_args={"owner": "cx-data", "retries": 2, "retry_delay": timedelta(minutes=5)},
    doc_md=__doc__,
)
def nps_dispatch_surveys():
    migrate_warehouse()


nps_dispatch_surveys()
