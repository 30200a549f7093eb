"""What every transport receives and may raise: a batch of invitations of one template.

A batch is one survey type and locale, at most ``dispatch.batch_size`` recipients, each address
at most once (SendGrid refuses a request that repeats an address). The errors tell the
dispatcher what the provider did with the batch, which decides the ledger state:

- ``TransientSendError``: certainly not accepted (429/5xx after retries, connection refused),
  so the rows go back to ``claimed`` and a retry sends them;
- ``PermanentSendError``: rejected (a 4xx payload error), rows become ``failed``; retrying
  cannot help until someone fixes the cause;
- ``UncertainSendError``: the outcome is unknown (a timeout after the request went out), so
  the rows stay ``sending`` and reconciliation decides from evidence.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from nps.email.render import MessageTemplate


@dataclass(frozen=True)
class Recipient:
    send_key: str
    survey_id: str
    email: str
    name: str
    substitutions: dict[str, str]


@dataclass(frozen=True)
class Attachment:
    """A file sent with every message of a batch: inline (an image the HTML shows as
    ``cid:<content_id>``) when ``content_id`` is set, otherwise a regular attachment."""

    filename: str
    content: bytes
    mime_type: str
    content_id: str | None = None


@dataclass(frozen=True)
class Batch:
    batch_id: str
    template: MessageTemplate
    recipients: list[Recipient]
    folder: str  # the run's folder name (outbox) / label, e.g. 2026-10-05T0600
    sender_name: str = ""
    sender_email: str = ""
    categories: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    #: The request a transport encoded ahead for exactly these recipients (``prepare``), or None:
    #: built when sent. A transport checks it still matches before using it.
    prepared: Any = field(default=None, repr=False, compare=False)

    @property
    def label(self) -> str:
        """How logs and errors name the batch (never an address)."""
        t = self.template
        return f"{self.batch_id} ({t.survey_type}/{t.locale}, {len(self.recipients)} recipients)"


class SendError(RuntimeError):
    """A batch was not (certainly) sent; the subclass says what the provider did."""


class TransientSendError(SendError):
    """Certainly not accepted; safe to send again."""


class PermanentSendError(SendError):
    """Rejected; sending again will fail the same way until the cause is fixed."""


class UncertainSendError(SendError):
    """The provider may or may not have accepted the batch."""


class Transport(Protocol):
    name: str

    def send(self, batch: Batch) -> str | None:
        """Send the batch; return the provider's message id for the batch, if it gives one."""
        ...

    # Optional: ``prepare(batch) -> Batch`` returns the batch with its request encoded ahead
    # (``Batch.prepared``), so the sending thread only writes it (``nps.dispatch`` calls it when present).
