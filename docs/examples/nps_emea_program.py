"""
### nps_emea_program (example, not loaded by default)

A second feedback program built from the same operators: its own config file
(`emea_program.yaml` beside this file, rendered with Jinja), its own warehouse connection
(`nps_warehouse_emea`), its own outbox and landing area, and only dispatch and ingestion (its
marts are left to, say, the company's dbt project). It runs daily at 07:00 Warsaw time.

To use it, copy this file and `emea_program.yaml` into your DAGs folder, create the connection
`nps_warehouse_emea` (type NPS warehouse), and optionally the Variables `nps_emea_outbox_dir`,
`nps_emea_landing_uri` and `nps_emea_sender`.

**Params:** `dry_run` (boolean): render and count the invitations, send nothing.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, Param, dag

from nps.operators import (
    DispatchSurveysOperator,
    IngestEventsOperator,
    IngestResponsesOperator,
    MigrateWarehouseOperator,
    SelectCohortOperator,
)

EMEA_INVITATIONS = Asset(name="nps_emea_invitations", uri="file://nps-emea/warehouse/ops/survey_invitations")
LANDING = "{{ var.value.get('nps_emea_landing_uri', 'data/landing-emea') }}"


@dag(
    schedule=CronDataIntervalTimetable("0 7 * * *", timezone="Europe/Warsaw"),
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    tags=["nps", "example"],
    default_args={"owner": "cx-data-emea", "retries": 2, "retry_delay": timedelta(minutes=5)},
    template_searchpath=[str(Path(__file__).parent)],  # where config="emea_program.yaml" is found
    params={"dry_run": Param(False, type="boolean", description="Render and count the invitations; send nothing.")},
    doc_md=__doc__,
)
def nps_emea_program():
    common = {"warehouse_conn_id": "nps_warehouse_emea", "config": "emea_program.yaml"}
    migrate = MigrateWarehouseOperator(task_id="migrate_warehouse", **common)
    cohort = SelectCohortOperator(task_id="select_cohort", **common)
    send = DispatchSurveysOperator(
        task_id="send_invitations",
        transport="outbox",
        outbox_dir="{{ var.value.get('nps_emea_outbox_dir', 'data/outbox-emea') }}",
        dry_run="{{ params.dry_run }}",
        outlets=[EMEA_INVITATIONS],
        **common,
    )
    events = IngestEventsOperator(task_id="ingest_events", landing_uri=LANDING, **common)
    responses = IngestResponsesOperator(task_id="ingest_responses", landing_uri=LANDING, **common)
    migrate >> cohort >> send >> events >> responses  # one writer at a time on a DuckDB warehouse


nps_emea_program()
