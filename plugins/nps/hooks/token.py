"""The survey-token hook: the HMAC secret(s) that sign and verify survey links.

The connection ``nps_survey_token`` (type "Survey token") holds the secret in its password field;
for a rotation, several separated by commas or new lines: the first signs, every one verifies.
Without the connection, the environment variable ``NPS_TOKEN_SECRET`` (same format) is used.
"""

from __future__ import annotations

import os
import re
from typing import Any

from airflow.sdk import BaseHook

from nps.hooks.base import ConnectionMissingError, connection_form_widgets, lookup_connection, ui_field_behaviour
from nps.provider import TOKEN_CONN_TYPE

DEFAULT_CONN_ID = "nps_survey_token"
ENV_VAR = "NPS_TOKEN_SECRET"


def split_secrets(value: str | None) -> list[str]:
    """``"new, old"`` or one per line -> ``["new", "old"]`` (blanks and repeats dropped, order kept)."""
    out: list[str] = []
    for part in re.split(r"[,\n\r]+", value or ""):
        part = part.strip()
        if part and part not in out:
            out.append(part)
    return out


class SurveyTokenHook(BaseHook):
    """The survey-link secrets from a connection (password) or ``NPS_TOKEN_SECRET``."""

    conn_name_attr = "conn_id"
    default_conn_name = DEFAULT_CONN_ID
    conn_type = TOKEN_CONN_TYPE
    hook_name = "Survey token"
    get_ui_field_behaviour = classmethod(ui_field_behaviour)
    get_connection_form_widgets = classmethod(connection_form_widgets)

    def __init__(self, conn_id: str = DEFAULT_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def __repr__(self) -> str:  # never shows a secret
        return f"SurveyTokenHook(conn_id={self.conn_id!r})"

    def get_secrets(self) -> list[str]:
        """Every configured secret, the signing one first."""
        conn = lookup_connection(self.conn_id)
        secrets = split_secrets(conn.password if conn is not None else None) or split_secrets(os.environ.get(ENV_VAR))
        if not secrets:
            raise ConnectionMissingError(
                f"no survey token secret: create the Airflow connection {self.conn_id!r} (type Survey token) with the "
                f"secret as its password, or set {ENV_VAR} (make demo creates one)"
            )
        return secrets

    def get_secret(self) -> str:
        """The secret that signs new links."""
        return self.get_secrets()[0]

    get_conn = get_secrets

    def get_signer(self):
        """A ``nps.tokens.TokenSigner`` with the signing secret."""
        from nps.tokens import TokenSigner

        return TokenSigner(self.get_secrets())  # the first signs, every one verifies (rotation)
