"""TaskFlow tasks: thin wrappers over the operators' logic, and the small glue tasks of the DAGs.

Use the operators (``nps.operators``) in your own DAGs; these are here where a decorated function
reads better in a DAG file.
"""

from __future__ import annotations

import logging

from airflow.sdk import task

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
