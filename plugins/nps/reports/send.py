"""The send plan and the send step of the KPI reports.

``plan_messages`` turns rendered reports and their recipients into :class:`ReportMessage`
objects: one per (report, period, recipient), fully rendered (subject, HTML, text, inline
images, scorecard CSV) with the send key ``report/<kind>/<period>/<audience>/<recipient hash>``
(a hash, so no address appears in keys, file names or logs). A malformed address is skipped and
named by its config key; everyone else is still planned.

``send_reports`` groups the messages into transport batches (one per identical content) and
hands them to :func:`deliver`, which sends them through the exactly-once ledger (``nps.ledger``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from email.headerregistry import Address
from typing import Any

from nps.email.base import Attachment, Batch, Recipient
from nps.email.render import MessageTemplate
from nps.ledger import recipient_hash

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
    failed: int = 0           # rejected by the provider (4xx): a rerun after the fix sends them
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


def deliver(wh, batches: list[Batch], transport, *, scope: str, run_id: str, resend: bool = False,
            grace_minutes: int = 60) -> SendResult:
    """Send report batches through the exactly-once ledger (:func:`nps.ledger.send_once`).

    Every recipient's ``send_key`` (``report/<kind>/<period>/<audience>/<recipient hash>``) is
    claimed before its batch goes out and marked sent when the transport accepts it; a key already
    sent is skipped unless ``resend`` (the run's ``resend`` Param) claims it again, once per run; an
    uncertain send (a crash or timeout mid-request) is reconciled from evidence, never resent on a
    guess (``nps.dispatch.SendsPending`` then says when to look again).
    """
    from nps.ledger import send_once

    res = send_once(wh, batches, transport, scope=scope, kind="report", run_id=run_id, resend=resend,
                    grace_minutes=grace_minutes)
    return SendResult(sent=res.sent, already_sent=res.already_sent, batches=res.batches, failed=res.failed, transport=res.transport,
                      errors=list(res.errors))


def send_reports(wh, messages: list[ReportMessage], transport, *, sender_name: str, sender_email: str, folder: str,
                 scope: str, run_id: str, resend: bool = False, grace_minutes: int = 60) -> SendResult:
    """Send the planned report messages exactly once each (see :func:`deliver`)."""
    batches = to_batches(messages, sender_name=sender_name, sender_email=sender_email, folder=folder)
    return deliver(wh, batches, transport, scope=scope, run_id=run_id, resend=resend, grace_minutes=grace_minutes)
