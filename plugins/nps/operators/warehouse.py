"""Bring the warehouse schema up to date: the first task of every program DAG."""

from __future__ import annotations

from typing import Any

from airflow.sdk.exceptions import AirflowFailException

from nps.operators.base import NpsBaseOperator, json_summary


def migrate_warehouse(hook, config_loader) -> dict[str, Any]:
    """Validate the config, then migrate; config and connection errors fail without retries."""
    from nps.hooks.base import ConnectionMissingError
    from nps.hooks.warehouse import WarehouseConfigError
    from nps.warehouse import WarehouseError

    config_loader()  # a bad config fails here, before any data is touched
    try:
        with hook.warehouse() as wh:
            applied = wh.migrate()
            version = wh.schema_version()
            where = repr(wh)
    except (WarehouseError, WarehouseConfigError, ConnectionMissingError) as err:
        # A bad URL or an unreachable server: the message names the masked URL. Retrying in five
        # minutes rarely helps and hides the error; fix the connection, then clear the task.
        raise AirflowFailException(str(err)) from None
    return {"warehouse": where, "schema_version": version, "applied": applied}


class MigrateWarehouseOperator(NpsBaseOperator):
    """Validate the program config and apply pending warehouse migrations (cheap when none).

    Fails at once, without retries, on a config error (naming the file and key), a missing
    connection, a malformed URL or an unreachable warehouse (naming the URL without its password).
    Returns ``{"warehouse", "schema_version", "applied"}``.
    """

    ui_color = "#dfe9e3"

    def execute(self, context) -> dict[str, Any]:
        summary = migrate_warehouse(self.warehouse_hook, self.program_config)
        self.log.info(
            "warehouse %s at schema version %d (applied now: %s)",
            summary["warehouse"], summary["schema_version"], ", ".join(summary["applied"]) or "none",
        )
        return json_summary(summary)
