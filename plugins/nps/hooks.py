"""The one place the package reads Airflow Connections and Variables.

- ``nps_warehouse``: the warehouse. ``AIRFLOW_CONN_NPS_WAREHOUSE=postgresql://user:pw@host:5432/db``
  or ``duckdb:////absolute/path.duckdb``, or any connection whose extra has ``sqlalchemy_url``.
  Missing: the embedded DuckDB file ``data/warehouse.duckdb``.
- ``nps_survey_token``: the HMAC secret that signs survey links (password field), or the
  environment variable ``NPS_TOKEN_SECRET``.

Call these inside tasks only, never at DAG parse time.
"""

from __future__ import annotations

import logging
import os
from urllib.parse import quote

from nps.warehouse import Warehouse, default_url

log = logging.getLogger(__name__)

WAREHOUSE_CONN_ID = "nps_warehouse"
TOKEN_CONN_ID = "nps_survey_token"


class SecretMissingError(RuntimeError):
    """A secret the pipeline needs is not configured."""


def _connection(conn_id: str):
    """The connection, or None. Inside a task through the Task SDK; outside one (the demo
    runner, a shell) the SDK sees only environment variables, so ask Airflow's metadata too."""
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        pass
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except Exception:  # noqa: BLE001 - not found, or no metadata database outside Airflow
        return None


def connection_to_url(conn) -> str:
    """Build a SQLAlchemy URL from an Airflow Connection."""
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return str(extra["sqlalchemy_url"])
    ctype = (conn.conn_type or "").lower()
    if ctype in ("postgres", "postgresql"):
        auth = ""
        if conn.login:
            auth = quote(conn.login, safe="")
            if conn.password:
                auth += ":" + quote(conn.password, safe="")
            auth += "@"
        port = f":{conn.port}" if conn.port else ""
        return f"postgresql+psycopg://{auth}{conn.host or '127.0.0.1'}{port}/{conn.schema or 'postgres'}"
    if ctype == "duckdb":
        path = conn.schema or conn.host or ""
        return f"duckdb:///{path}" if path else default_url()
    raise ValueError(
        f"connection {conn.conn_id!r} has type {ctype!r}; use postgres or duckdb, or put a sqlalchemy_url in its extra"
    )


def warehouse_url() -> str:
    conn = _connection(WAREHOUSE_CONN_ID)
    return default_url() if conn is None else connection_to_url(conn)


def get_warehouse() -> Warehouse:
    """The warehouse named by the ``nps_warehouse`` connection (DuckDB file by default)."""
    return Warehouse(warehouse_url())


def token_secret() -> str:
    conn = _connection(TOKEN_CONN_ID)
    secret = (conn.password if conn else None) or os.environ.get("NPS_TOKEN_SECRET")
    if not secret:
        raise SecretMissingError(
            f"no survey token secret: create the Airflow connection {TOKEN_CONN_ID!r} with the secret as its "
            "password, or set NPS_TOKEN_SECRET (make demo creates one)"
        )
    return secret
