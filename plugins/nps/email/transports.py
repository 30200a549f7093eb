"""Which transport sends the invitations.

``NPS_EMAIL_TRANSPORT=outbox|smtp|sendgrid`` forces one. Otherwise: the Airflow connection
``nps_sendgrid`` (password = API key; extra ``host``, ``sandbox_mode``, ``timeout``) selects
SendGrid; else ``nps_smtp`` selects SMTP; else, only in the declared embedded project
(``NPS_EMBEDDED=1``), the local outbox (``NPS_OUTBOX_DIR``, default ``data/outbox``); anywhere else
the task fails naming both connections (``nps.hooks.email.EmailTransportHook``).
"""

from __future__ import annotations

from nps.config import ProgramConfig
from nps.email.outbox import OutboxTransport  # noqa: F401 - re-exported for callers
from nps.email.sendgrid import DEFAULT_HOST, SendGridHook
from nps.email.smtp import SmtpTransport

SENDGRID_CONN_ID = "nps_sendgrid"
SMTP_CONN_ID = "nps_smtp"
CHOICES = ("outbox", "smtp", "sendgrid")


class TransportConfigError(ValueError):
    """The transport asked for is not configured."""


def _truthy(v) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "on")


def sendgrid_from_connection(conn, config: ProgramConfig) -> SendGridHook:
    extra = conn.extra_dejson or {}
    d = config.dispatch
    return SendGridHook(
        conn.password or "",
        host=extra.get("host") or conn.host or DEFAULT_HOST,
        timeout=float(extra.get("timeout") or d.sendgrid_timeout_seconds),
        max_retries=d.sendgrid_max_retries,
        sandbox=d.sandbox_mode or _truthy(extra.get("sandbox_mode", False)),
    )


def smtp_from_connection(conn) -> SmtpTransport:
    extra = conn.extra_dejson or {}
    return SmtpTransport(
        host=conn.host or "localhost",
        port=int(conn.port or 1025),
        login=conn.login or None,
        password=conn.password or None,
        starttls=_truthy(extra.get("starttls", False)),
        use_ssl=_truthy(extra.get("ssl", False)),
        timeout=float(extra.get("timeout", 30)),
    )


def transport_from_airflow(config: ProgramConfig):
    """Resolve the transport from the environment and Airflow connections (call inside a task)."""
    from nps.hooks.email import EmailTransportHook

    return EmailTransportHook(sendgrid_conn_id=SENDGRID_CONN_ID, smtp_conn_id=SMTP_CONN_ID).get_conn(config)
