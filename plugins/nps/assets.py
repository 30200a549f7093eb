"""The Airflow assets that connect the DAGs; every DAG names them from here."""

from __future__ import annotations

from airflow.sdk import Asset

INVITATIONS = Asset(name="nps_invitations", uri="file://nps/warehouse/ops/survey_invitations", group="nps")
RESPONSES = Asset(name="nps_responses", uri="file://nps/warehouse/ops/raw_responses", group="nps")
MARTS = Asset(name="nps_marts", uri="file://nps/warehouse/marts", group="nps")
FOLLOWUPS = Asset(name="nps_followups", uri="file://nps/warehouse/ops/followup_decisions", group="nps")
