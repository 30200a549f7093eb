"""Airflow hooks for the program's connections (and the functions older code calls).

- ``WarehouseHook`` (``nps_warehouse``): the warehouse, PostgreSQL or DuckDB.
- ``SendGridHook`` (``nps_sendgrid``) and ``EmailTransportHook`` (SendGrid, SMTP or the outbox).
- ``SurveyTokenHook`` (``nps_survey_token``): the secret(s) that sign survey links.

Hooks resolve their connection when first used, never when constructed. The connection types
and their UI form fields are declared in ``nps.provider``.
"""

from __future__ import annotations

from nps.hooks.base import ConnectionMissingError, lookup_connection
from nps.hooks.email import EmailTransportHook, SendGridHook
from nps.hooks.token import SurveyTokenHook
from nps.hooks.warehouse import WarehouseConfigError, WarehouseHook, connection_to_url

WAREHOUSE_CONN_ID = "nps_warehouse"
TOKEN_CONN_ID = "nps_survey_token"
SecretMissingError = ConnectionMissingError  # the name older callers catch
_connection = lookup_connection


def warehouse_url() -> str:
    return WarehouseHook().get_uri()


def get_warehouse():
    """The warehouse of the ``nps_warehouse`` connection (the caller disposes of it)."""
    return WarehouseHook().get_conn()


def token_secret() -> str:
    """The survey-link secrets as ``TokenSigner`` takes them: comma-separated, the signing one first
    and, during a rotation, the older ones that still verify."""
    return ",".join(SurveyTokenHook().get_secrets())


__all__ = [
    "ConnectionMissingError",
    "EmailTransportHook",
    "SendGridHook",
    "SurveyTokenHook",
    "WarehouseConfigError",
    "WarehouseHook",
    "connection_to_url",
    "get_warehouse",
    "token_secret",
    "warehouse_url",
]
