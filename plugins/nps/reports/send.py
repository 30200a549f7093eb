"""The send plan and the send step of the KPI reports.

``plan_messages`` turns rendered reports and their recipients into :class:`ReportMessage`
objects: one per (report, period, recipient), fully rendered (subject, HTML, text, inline
images, scorecard CSV) with the send key ``report/<kind>/<period>/<audience>/<recipient hash>``
(a hash, so no address appears in keys, file names or logs). A malformed address is skipped and
named by its config key; everyone else is still planned.

``send_reports`` groups the messages into transport batches (one per identical content) and
hands them to :func:`deliver`, the ONE place that talks to the exactly-once ledger.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import Any

from nps.email.base import Attachment, Batch, Recipient, SendError
from nps.email.render import MessageTemplate

log = logging.getLogger(__name__)

_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")


def valid_address(email: str) -> bool:
    """A plain ``local@domain.tld`` address that an email header can carry."""
    if not _EMAIL.match(email or ""):
        return False
    try:
        Address(addr_spec=email)
    except (ValueError, IndexError):
        return False
    return True


def recipient_hash(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


def send_key(kind: str, period_key: str, audience: str, email: str) -> str:
    return f"report/{kind}/{period_key}/{audience}/{recipient_hash(email)}"


@dataclass(frozen=True)
class ReportMessage:
    """One fully rendered report email for one recipient."""

    send_key: str
    kind: str
    period_key: str
    audience: str
    locale: str
    config_key: str           # where the recipient is configured, e.g. reports.recipients.monthly[1]
    email: str
    name: str
    subject: str
    html: str                 # images as cid:<name>
    text: str
    attachments: tuple[Attachment, ...] = ()
    content_id: str = ""      # messages with the same content_id share one transport batch

    @property
    def message_id(self) -> str:
        """A dotted id for Message-ID headers and custom_args (the send key without slashes)."""
        return self.send_key.replace("/", ".")


@dataclass
class Planned:
    messages: list[ReportMessage] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)    # config keys of malformed addresses


@dataclass
class SendResult:
    sent: int = 0
    already_sent: int = 0
    batches: int = 0
    transport: str = ""
    errors: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def attachments_for(rr) -> tuple[Attachment, ...]:
    """The inline chart images and the scorecard CSV of a RenderedReport."""
    imgs = [Attachment(c.filename, c.png, "image/png", content_id=c.name) for c in rr.images]
    return (*imgs, Attachment("scorecard.csv", rr.csv, "text/csv"))


def plan_messages(rendered, recipients: list[tuple[str, Any]], *, note_html: str = "", note_text: str = "") -> Planned:
    """Messages of one rendered report (RenderedReport or an OwnerPage-like object with
    kind/period_key/audience/locale/subject/html_email/text) for ``(config key, recipient)`` pairs."""
    out = Planned()
    atts = attachments_for(rendered) if hasattr(rendered, "images") else ()
    cid = f"{rendered.kind}/{rendered.period_key}/{rendered.audience}/{rendered.locale}"
    for key, r in recipients:
        if not valid_address(r.email):
            out.skipped.append(key)
            log.warning("skipping %s: malformed address (%d characters)", key, len(r.email or ""))
            continue
        out.messages.append(ReportMessage(
            send_key=send_key(rendered.kind, rendered.period_key, rendered.audience, r.email),
            kind=rendered.kind, period_key=rendered.period_key, audience=rendered.audience, locale=rendered.locale,
            config_key=key, email=r.email.strip(), name=r.name, subject=rendered.subject,
            html=rendered.html_email.replace("</body>", note_html + "</body>", 1) if note_html else rendered.html_email,
            text=rendered.text + note_text, attachments=atts, content_id=cid,
        ))
    return out


def to_batches(messages: list[ReportMessage], *, sender_name: str, sender_email: str, folder: str) -> list[Batch]:
    """One batch per identical content (each address once per batch, as SendGrid requires)."""
    groups: dict[str, list[ReportMessage]] = {}
    for m in messages:
        groups.setdefault(m.content_id, []).append(m)
    batches = []
    for cid, ms in groups.items():
        first = ms[0]
        seen: set[str] = set()
        chunks: list[list[ReportMessage]] = [[]]
        for m in ms:
            addr = m.email.lower()
            if addr in seen or len(chunks[-1]) >= 1000:
                chunks.append([])
                seen = set()
            seen.add(addr)
            chunks[-1].append(m)
        for j, chunk in enumerate(chunks):
            tmpl = MessageTemplate(survey_type="report", locale=first.locale, subject=first.subject, text=first.text, html=first.html)
            batches.append(Batch(
                batch_id=f"{cid.replace('/', '.')}.{j:03d}", template=tmpl,
                recipients=[Recipient(send_key=m.send_key, survey_id=m.message_id, email=m.email, name=m.name, substitutions={})
                            for m in chunk],
                folder=folder, sender_name=sender_name, sender_email=sender_email,
                categories=["nps-report", first.kind, first.locale], attachments=list(first.attachments),
            ))
    return batches


class UnledgeredSendError(ValueError):
    """Report emails through a transport that leaves no evidence, without the ledger (see deliver)."""


def deliver(batches: list[Batch], transport, *, resend: bool = False, unledgered_ok: bool = False) -> SendResult:
    """Hand report batches to the exactly-once ledger. THE ONE PLACE TO WIRE TO THE GENERIC LEDGER.

    Contract (what the generic ledger of ``nps/dispatch.py`` must give reports):
    - every recipient's ``send_key`` (``report/<kind>/<period>/<audience>/<recipient hash>``) is
      claimed before its batch goes out, and marked sent when the transport accepts it;
    - a key already ``sent`` is skipped, unless ``resend`` is true (the run's ``resend`` Param),
      in which case it is claimed again and sent again;
    - a batch whose outcome is uncertain stays uncertain and is reconciled from evidence, never
      resent on a guess.

    Until the ledger handles report emails, this keeps the promise only where the transport leaves
    evidence: the outbox writes one file per send key, and an existing file counts as sent.
    SendGrid and SMTP sends are not recorded, so a rerun would send them again: they are refused
    (``UnledgeredSendError``, the task fails without retries and says so) unless the caller
    passes ``unledgered_ok`` (the tests and the benchmark, which measure the rendering and the
    payloads, not the exactly-once promise).
    """
    name = getattr(transport, "name", type(transport).__name__)
    if name != "outbox" and not unledgered_ok:
        raise UnledgeredSendError(
            f"report emails through {name} are not sent yet: the exactly-once ledger does not cover report emails, "
            "so a rerun or backfill would email every recipient again. The reports are rendered and archived; "
            "until the ledger covers them, set NPS_EMAIL_TRANSPORT=outbox for the report DAGs (or run them with "
            "dry_run) and forward the archived report (NPS_REPORTS_URI/index.html)."
        )
    result = SendResult(transport=name)
    for b in batches:
        todo = b.recipients
        if getattr(transport, "name", "") == "outbox" and not resend:
            done = transport.delivered(b.folder, [r.send_key for r in b.recipients])
            todo = [r for r in b.recipients if r.send_key not in done]
            result.already_sent += len(b.recipients) - len(todo)
        if not todo:
            continue
        batch = b if len(todo) == len(b.recipients) else Batch(**{**b.__dict__, "recipients": todo})
        try:
            transport.send(batch)
        except SendError as err:
            result.errors.append(str(err))
            log.error("%s", err)
            continue
        result.sent += len(todo)
        result.batches += 1
    return result


def send_reports(messages: list[ReportMessage], transport, *, sender_name: str, sender_email: str, folder: str,
                 resend: bool = False, unledgered_ok: bool = False) -> SendResult:
    """Send the planned report messages exactly once each (see :func:`deliver`)."""
    batches = to_batches(messages, sender_name=sender_name, sender_email=sender_email, folder=folder)
    result = deliver(batches, transport, resend=resend, unledgered_ok=unledgered_ok)
    log.info("reports: %d sent in %d batches via %s, %d already sent, %d errors", result.sent, result.batches,
             result.transport, result.already_sent, len(result.errors))
    return result
