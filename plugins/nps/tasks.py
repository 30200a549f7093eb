"""TaskFlow tasks: thin wrappers over the operators' logic, and the small glue tasks of the DAGs.

Use the operators (``nps.operators``) in your own DAGs; these are here where a decorated function
reads better in a DAG file.
"""

from __future__ import annotations

import logging

from airflow.sdk import task

from nps.assets import RESPONSES

log = logging.getLogger(__name__)


@task(retries=2)
def migrate_warehouse(warehouse_conn_id: str = "nps_warehouse", config_path: str | None = None) -> dict:
    """Bring the warehouse schema up to date (cheap when it already is); fails fast on config or connection errors."""
    from nps.config import ConfigError, load_config
    from nps.hooks.warehouse import WarehouseHook
    from nps.operators.warehouse import migrate_warehouse as migrate

    def config():
        from airflow.sdk.exceptions import AirflowFailException

        try:
            return load_config(config_path)
        except ConfigError as err:
            raise AirflowFailException(str(err)) from None

    summary = migrate(WarehouseHook(warehouse_conn_id), config)
    log.info("warehouse %s at schema version %d", summary["warehouse"], summary["schema_version"])
    return summary


@task.short_circuit
def landing_has_files(landing_uri: str | None = None) -> bool:
    """Skip the rest of the run when nothing waits in the landing area."""
    from nps.ingest.landing import Landing

    landing = Landing(landing_uri or None)
    landing.ensure()
    return landing.has_pending()


@task.short_circuit
def new_responses_landed(responses: dict) -> bool:
    """Continue to publishing only when new responses were loaded."""
    return responses["rows_loaded"] > 0


@task(outlets=[RESPONSES])
def publish_responses(responses: dict) -> int:
    """Emit the nps_responses asset so the marts rebuild."""
    return responses["rows_loaded"]


@task
def check_rejected_files(events: dict, responses: dict) -> int:
    """Fail, naming them, when files were set aside as unparseable (retrying does not help)."""
    from airflow.sdk.exceptions import AirflowFailException

    from nps.ingest.summary import rejected_message

    message = rejected_message(events["files"] + responses["files"])
    if message:
        raise AirflowFailException(message)
    return len(events["files"]) + len(responses["files"])
