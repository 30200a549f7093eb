"""SMTP transport: Mailpit in docker-compose (host ``mailpit``, port 1025) or a company relay.

Configured by the Airflow connection ``nps_smtp`` (host, port, login, password; extra
``starttls: true``, ``ssl: true``, ``timeout``). One connection per batch; each message carries a
deterministic Message-ID (``<survey_id@domain>``) so a resent invitation can be recognised.
SMTP gives no evidence of acceptance that survives a crash, so an uncertain batch is resent
after the grace period (docs/dispatch.md).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass

from nps.email.base import Batch, PermanentSendError, TransientSendError, UncertainSendError
from nps.email.outbox import build_message

log = logging.getLogger(__name__)


@dataclass
class SmtpTransport:
    host: str = "localhost"
    port: int = 1025
    login: str | None = None
    password: str | None = None
    starttls: bool = False
    use_ssl: bool = False
    timeout: float = 30.0
    name: str = "smtp"

    def send(self, batch: Batch) -> str | None:
        try:
            cls = smtplib.SMTP_SSL if self.use_ssl else smtplib.SMTP
            client = cls(self.host, self.port, timeout=self.timeout)
        except OSError as err:
            raise TransientSendError(f"batch {batch.label}: cannot connect to SMTP {self.host}:{self.port}: {err}") from None
        sent = 0
        try:
            with client:
                if self.starttls:
                    client.starttls(context=ssl.create_default_context())
                if self.login:
                    client.login(self.login, self.password or "")
                for r in batch.recipients:
                    client.send_message(build_message(batch, r))
                    sent += 1
        except smtplib.SMTPAuthenticationError as err:
            raise PermanentSendError(f"batch {batch.label}: SMTP login refused: {err.smtp_code}") from None
        except smtplib.SMTPRecipientsRefused as err:
            raise PermanentSendError(f"batch {batch.label}: SMTP refused a recipient ({len(err.recipients)})") from None
        except (smtplib.SMTPException, OSError) as err:
            if sent == 0 and isinstance(err, smtplib.SMTPConnectError):
                raise TransientSendError(f"batch {batch.label}: SMTP {self.host}:{self.port}: {err}") from None
            raise UncertainSendError(f"batch {batch.label}: SMTP failed after {sent} messages: {err}") from None
        log.info("sent %d invitations of batch %s over SMTP %s:%s", sent, batch.batch_id, self.host, self.port)
        return None
