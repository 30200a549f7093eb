"""What the project's hooks share: lazy connection lookup with a clear error, extras read the
same way whatever wrote them (the UI form, the CLI, an ``AIRFLOW_CONN_*`` URI), and the UI form
fields built from ``nps.provider`` (one declaration for new and old Airflow versions), and the one
place that decides whether the embedded defaults (the local DuckDB file, the outbox) may stand in
for a missing connection.

Fail closed: outside the embedded project a missing connection or secret fails the task at once,
naming the connection and how to set it. The embedded project is declared, never guessed: the
environment variable ``NPS_EMBEDDED=1`` (the Makefile, the demo and the tests set it) or the extra
``"embedded": true`` on the ``nps_warehouse`` connection (the one ``make init`` creates).
"""

from __future__ import annotations

import os
from typing import Any

from airflow.sdk import BaseHook
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

from nps.provider import connection_type

EMBEDDED_ENV = "NPS_EMBEDDED"
EMBEDDED_HINT = (
    "the embedded defaults (local DuckDB file, outbox) apply only in the local project: "
    f"{EMBEDDED_ENV}=1 or the extra \"embedded\": true on the nps_warehouse connection"
)


class ConnectionMissingError(AirflowNotFoundException, AirflowFailException):
    """A connection the task needs does not exist; the message names it and says how to add it.

    Also an ``AirflowFailException``: a retry in five minutes would find the same configuration,
    so the task fails at once and the failure notification names what to set.
    """


def _truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def embedded(warehouse_conn_id: str = "nps_warehouse") -> bool:
    """True where the embedded local project is declared (see the module docstring)."""
    if EMBEDDED_ENV in os.environ:
        return _truthy(os.environ[EMBEDDED_ENV])  # an explicit NPS_EMBEDDED=0 wins over the connection
    conn = lookup_connection(warehouse_conn_id)
    return conn is not None and _truthy(extras(conn).get("embedded", False))


def in_task() -> bool:
    """True inside a running task (the Task SDK's supervisor is connected), as Airflow itself tells."""
    import sys

    return hasattr(sys.modules.get("airflow.sdk.execution_time.task_runner"), "SUPERVISOR_COMMS")


def lookup_connection(conn_id: str):
    """The Airflow connection ``conn_id``, or None when it does not exist.

    Inside a task it comes through the Task SDK (``airflow.sdk.BaseHook.get_connection``: secrets
    backends, env vars, the API server), whose "not found" is the answer. Outside one (the demo
    runner, a shell) the SDK may see only environment variables, so Airflow's metadata database is
    asked too; never from inside a task, where ``airflow.models.Connection`` is deprecated.
    """
    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        if in_task():
            return None
    except Exception:  # noqa: BLE001 - no supervisor outside a task: fall through to the metadata DB
        if in_task():
            raise
    try:
        from airflow.models.connection import Connection

        return Connection.get_connection_from_secrets(conn_id)
    except Exception:  # noqa: BLE001 - not found, or no metadata database outside Airflow
        return None


def extras(conn) -> dict[str, Any]:
    """The connection's extra fields, with the UI's ``extra__<type>__`` prefixes removed."""
    raw = dict(getattr(conn, "extra_dejson", None) or {})
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key.startswith("extra__") and key.count("__") >= 2:
            key = key.split("__", 2)[2]
        if value not in (None, ""):
            out.setdefault(key, value)
    return out


# Airflow < 3.2 builds the connection form from these two class methods, and only from a class
# that defines them itself; each hook sets ``get_ui_field_behaviour = classmethod(ui_field_behaviour)``.
def ui_field_behaviour(cls) -> dict[str, Any]:
    b = connection_type(cls.conn_type).get("ui-field-behaviour", {})
    return {
        "hidden_fields": list(b.get("hidden-fields", [])),
        "relabeling": dict(b.get("relabeling", {})),
        "placeholders": dict(b.get("placeholders", {})),
    }


def connection_form_widgets(cls) -> dict[str, Any]:
    fields = connection_type(cls.conn_type).get("conn-fields", {})
    if not fields:
        return {}
    from flask_appbuilder.fieldwidgets import BS3TextFieldWidget  # only where the old UI is installed
    from wtforms import BooleanField, StringField

    out: dict[str, Any] = {}
    for name, f in fields.items():
        if f["schema"]["type"][0] == "boolean":
            out[name] = BooleanField(f["label"], description=f["description"])
        else:
            out[name] = StringField(f["label"], widget=BS3TextFieldWidget(), description=f["description"])
    return out
