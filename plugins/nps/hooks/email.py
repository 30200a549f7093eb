"""Email hooks: SendGrid (the ``nps_sendgrid`` connection, on the official client) and the one
interface over every transport the program sends with (SendGrid, SMTP, the local outbox).

Every transport has ``name`` and ``send(batch) -> message id | None`` (``nps.email.base.Transport``);
the exactly-once ledger in ``nps.dispatch`` is the only caller that sends. The hooks only build the
transport, reading their connections when asked, never in the constructor.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseHook

from nps.hooks.base import (
    EMBEDDED_HINT,
    ConnectionMissingError,
    connection_form_widgets,
    embedded,
    extras,
    lookup_connection,
    ui_field_behaviour,
)
from nps.provider import SENDGRID_CONN_TYPE

if TYPE_CHECKING:
    from nps.config import ProgramConfig

SENDGRID_CONN_ID = "nps_sendgrid"
SMTP_CONN_ID = "nps_smtp"
TRANSPORTS = ("outbox", "smtp", "sendgrid")


class SendGridHook(BaseHook):
    """SendGrid v3 Mail Send from a connection: password = API key, host = API host (default
    ``https://api.sendgrid.com``), extras ``timeout`` and ``sandbox_mode``.

    ``get_conn(config)`` returns the project's SendGrid client (``nps.email.sendgrid``): one request
    per batch, retries on 429/5xx, a 4xx fails, a timeout is uncertain.
    """

    conn_name_attr = "conn_id"
    default_conn_name = SENDGRID_CONN_ID
    conn_type = SENDGRID_CONN_TYPE
    hook_name = "SendGrid"
    get_ui_field_behaviour = classmethod(ui_field_behaviour)
    get_connection_form_widgets = classmethod(connection_form_widgets)

    def __init__(self, conn_id: str = SENDGRID_CONN_ID, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.conn_id = conn_id

    def __repr__(self) -> str:
        return f"SendGridHook(conn_id={self.conn_id!r})"

    def exists(self) -> bool:
        return lookup_connection(self.conn_id) is not None

    def get_conn(self, config: ProgramConfig | None = None):
        """The SendGrid client transport; ``config.dispatch`` gives the default timeout, retries and sandbox."""
        from nps.config import load_config
        from nps.email.transports import sendgrid_from_connection

        conn = lookup_connection(self.conn_id)
        if conn is None:
            raise ConnectionMissingError(
                f"the SendGrid connection {self.conn_id!r} does not exist: add it (Admin -> Connections, type "
                f"SendGrid, API key as password) or set AIRFLOW_CONN_{self.conn_id.upper()}"
            )
        view = SimpleNamespace(password=conn.password, host=conn.host, extra_dejson=extras(conn))
        return sendgrid_from_connection(view, config or load_config())

    get_transport = get_conn


class EmailTransportHook(BaseHook):
    """Chooses and builds the transport: one interface over SendGrid, SMTP and the outbox.

    ``transport`` (or the environment variable ``NPS_EMAIL_TRANSPORT``) forces one of
    ``outbox``, ``smtp``, ``sendgrid``; otherwise the SendGrid connection when it exists, else the
    SMTP connection (``nps_smtp``: host, port, login, password; extras ``starttls``, ``ssl``,
    ``timeout``), else, only in the declared embedded project (``NPS_EMBEDDED=1``, see
    ``nps.hooks.base``), the local outbox (``outbox_dir``, ``NPS_OUTBOX_DIR`` or ``data/outbox``).
    Anywhere else no connection fails the task, naming both connections: an outbox nobody reads
    would mark invitations *sent* that nobody received. A forced transport whose connection is
    missing fails, naming the connection; ``NPS_EMAIL_TRANSPORT=outbox`` is the explicit way to
    write to the outbox outside the embedded project.
    """

    hook_name = "NPS email transport"

    def __init__(
        self,
        *,
        transport: str | None = None,
        sendgrid_conn_id: str = SENDGRID_CONN_ID,
        smtp_conn_id: str = SMTP_CONN_ID,
        outbox_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.transport = transport
        self.sendgrid_conn_id = sendgrid_conn_id
        self.smtp_conn_id = smtp_conn_id
        self.outbox_dir = outbox_dir

    def choice(self) -> str:
        """The forced transport name, or '' to choose by the connections that exist."""
        from nps.email.transports import TransportConfigError

        forced = (self.transport or os.environ.get("NPS_EMAIL_TRANSPORT") or "").strip().lower()
        if forced and forced not in TRANSPORTS:
            source = "transport" if self.transport else "NPS_EMAIL_TRANSPORT"
            raise TransportConfigError(f"{source}={forced!r}: use one of {', '.join(TRANSPORTS)}")
        return forced

    def get_conn(self, config: ProgramConfig | None = None):
        """The transport to send with (has ``name`` and ``send(batch)``)."""
        from nps.email.outbox import OutboxTransport
        from nps.email.transports import TransportConfigError, smtp_from_connection

        forced = self.choice()
        outbox = lambda: OutboxTransport(Path(self.outbox_dir) if self.outbox_dir else None)  # noqa: E731
        if forced == "outbox":
            return outbox()
        if forced in ("", "sendgrid"):
            sendgrid = SendGridHook(self.sendgrid_conn_id)
            if sendgrid.exists():
                return sendgrid.get_conn(config)
            if forced:
                raise TransportConfigError(f"transport sendgrid but the connection {self.sendgrid_conn_id!r} does not exist")
        if forced in ("", "smtp"):
            conn = lookup_connection(self.smtp_conn_id)
            if conn is not None:
                return smtp_from_connection(SimpleNamespace(
                    host=conn.host, port=conn.port, login=conn.login, password=conn.password, extra_dejson=extras(conn)))
            if forced:
                raise TransportConfigError(f"transport smtp but the connection {self.smtp_conn_id!r} does not exist")
        if embedded():
            return outbox()
        raise ConnectionMissingError(
            f"no email connection: neither {self.sendgrid_conn_id!r} nor {self.smtp_conn_id!r} exists. Add one "
            f"(Admin -> Connections: type SendGrid with the API key as password, or SMTP with host and port), or set "
            f"AIRFLOW_CONN_{self.sendgrid_conn_id.upper()} / AIRFLOW_CONN_{self.smtp_conn_id.upper()}; "
            f"NPS_EMAIL_TRANSPORT=outbox writes to the local outbox on purpose; {EMBEDDED_HINT}"
        )

    get_transport = get_conn
