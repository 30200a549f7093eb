"""The package's Airflow provider info: its connection types and their UI form fields.

Airflow finds ``get_provider_info`` through the entry point ``apache_airflow_provider`` in the
installed package's metadata (``pip install -e .``, which ``make`` runs), so the connection form
offers "NPS warehouse", "SendGrid" and "Survey token" with their fields, and Admin -> Providers
shows the package and its version. Airflow 3.2+ reads the fields declaratively from here
(``conn-fields``, ``ui-field-behaviour``) without importing the hooks; the hooks'
``get_connection_form_widgets`` / ``get_ui_field_behaviour`` serve older Airflow versions and are
built from the same dictionaries. Nothing here imports Airflow.
"""

from __future__ import annotations

from typing import Any

WAREHOUSE_CONN_TYPE = "nps_warehouse"
SENDGRID_CONN_TYPE = "nps_sendgrid"
TOKEN_CONN_TYPE = "nps_survey_token"


def _s(label: str, description: str, *, kind: str = "string", default: Any = None, **schema: Any) -> dict[str, Any]:
    field: dict[str, Any] = {"label": label, "description": description, "schema": {"type": [kind, "null"], **schema}}
    if default is not None:
        field["schema"]["default"] = default
    return field


CONNECTION_TYPES: list[dict[str, Any]] = [
    {
        "connection-type": WAREHOUSE_CONN_TYPE,
        "hook-class-name": "nps.hooks.warehouse.WarehouseHook",
        "hook-name": "NPS warehouse",
        "conn-fields": {
            "engine": _s(
                "Engine",
                "postgresql (host, port, database, login, password below) or duckdb (an embedded file, "
                "see DuckDB file)",
                default="postgresql",
                enum=["postgresql", "duckdb"],
            ),
            "duckdb_path": _s("DuckDB file", "Absolute path of the DuckDB warehouse file (engine duckdb)"),
            "sqlalchemy_url": _s(
                "SQLAlchemy URL",
                "Overrides every other field, e.g. duckdb:////srv/nps/warehouse.duckdb or "
                "postgresql://user@host:5432/db (put the password in the Password field)",
            ),
            "embedded": _s(
                "Embedded project",
                "Only for a local project (make init sets it): without an email connection, invitations go to the "
                "local outbox. Leave off in a deployment, where a missing connection must fail the task",
                kind="boolean",
                default=False,
            ),
        },
        "ui-field-behaviour": {
            "hidden-fields": ["extra"],
            "relabeling": {"schema": "Database"},
            "placeholders": {
                "host": "warehouse.internal (PostgreSQL)",
                "port": "5432",
                "schema": "nps",
                "login": "nps_loader",
            },
        },
    },
    {
        "connection-type": SENDGRID_CONN_TYPE,
        "hook-class-name": "nps.hooks.email.SendGridHook",
        "hook-name": "SendGrid",
        "conn-fields": {
            "timeout": _s("Request timeout (s)", "Seconds before a Mail Send request counts as uncertain", kind="number",
                          default=30),
            "sandbox_mode": _s("Sandbox mode", "SendGrid validates the request and sends nothing", kind="boolean",
                               default=False),
        },
        "ui-field-behaviour": {
            "hidden-fields": ["schema", "login", "port", "extra"],
            "relabeling": {"host": "API host", "password": "API key"},
            "placeholders": {"host": "https://api.sendgrid.com", "password": "SG.xxxxx (Mail Send permission)"},
        },
    },
    {
        "connection-type": TOKEN_CONN_TYPE,
        "hook-class-name": "nps.hooks.token.SurveyTokenHook",
        "hook-name": "Survey token",
        "ui-field-behaviour": {
            "hidden-fields": ["host", "schema", "login", "port", "extra"],
            "relabeling": {"password": "Secret(s)"},
            "placeholders": {
                "password": "the HMAC secret; for a rotation: new,old (the first signs, all verify)",
            },
        },
    },
]


def get_provider_info() -> dict[str, Any]:
    from nps import __version__

    return {
        "package-name": "nps-program",
        "name": "NPS feedback program",
        "description": "Operators and hooks of the NPS / CSAT / CES feedback program: warehouse, cohorts, "
        "survey dispatch, response ingestion and marts.",
        "versions": [__version__],
        "integrations": [{"integration-name": "NPS feedback program", "tags": ["software"]}],
        "hooks": [
            {
                "integration-name": "NPS feedback program",
                "python-modules": ["nps.hooks.warehouse", "nps.hooks.email", "nps.hooks.token"],
            }
        ],
        "operators": [
            {
                "integration-name": "NPS feedback program",
                "python-modules": [
                    "nps.operators.warehouse",
                    "nps.operators.cohort",
                    "nps.operators.dispatch",
                    "nps.operators.ingest",
                    "nps.operators.marts",
                ],
            }
        ],
        "connection-types": CONNECTION_TYPES,
    }


def connection_type(conn_type: str) -> dict[str, Any]:
    return next(c for c in CONNECTION_TYPES if c["connection-type"] == conn_type)
