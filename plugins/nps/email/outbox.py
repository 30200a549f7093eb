"""The local outbox: every invitation as a standard ``.eml`` file, one folder per data interval.

The embedded default when no SendGrid or SMTP connection exists, and what the demo shows. A
file is named after the invitation's send key and written atomically (temporary file, then
rename), so its presence is proof the message was "delivered": reconciliation after a crash
looks for it, and writing it again replaces it instead of duplicating it.
"""

from __future__ import annotations

import logging
import os
import re
from datetime import UTC
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

from nps import DATA_DIR
from nps.email.base import Batch, PermanentSendError, Recipient
from nps.email.render import list_unsubscribe_headers, merge

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Lines up to RFC 5322's 998 characters: a List-Unsubscribe URL with its token is one long word,
# which the default 78 would turn into an RFC 2047 encoded-word that mail clients do not decode.
_POLICY = policy.default.clone(max_line_length=998)


def outbox_dir() -> Path:
    return Path(os.environ.get("NPS_OUTBOX_DIR") or DATA_DIR / "outbox")


def file_name(send_key: str) -> str:
    return _UNSAFE.sub("_", send_key) + ".eml"


def build_message(batch: Batch, r: Recipient) -> EmailMessage:
    """One invitation as an RFC 5322 message (text and HTML alternatives)."""
    from nps.clock import utcnow

    t = batch.template
    msg = EmailMessage(policy=_POLICY)
    msg["Subject"] = merge(t.subject, r.substitutions)
    msg["From"] = Address(display_name=batch.sender_name, addr_spec=batch.sender_email)
    try:
        msg["To"] = Address(display_name=r.name, addr_spec=r.email)
    except (ValueError, IndexError) as err:
        raise PermanentSendError(f"batch {batch.label}: survey {r.survey_id} has an invalid address: {err}") from None
    msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    msg["Message-ID"] = f"<{r.survey_id}@{batch.sender_email.rsplit('@', 1)[-1]}>"  # what the ledger records
    msg["X-NPS-Send-Key"] = r.send_key
    msg["X-NPS-Survey-Id"] = r.survey_id
    for name, value in list_unsubscribe_headers(t, r.substitutions).items():
        msg[name] = value
    msg.set_content(merge(t.text, r.substitutions))
    msg.add_alternative(merge(t.html, r.substitutions), subtype="html")
    if batch.attachments:
        html_part = msg.get_payload()[1]
        for a in batch.attachments:
            main, sub = a.mime_type.split("/", 1)
            if a.content_id:  # inline: multipart/related beside the HTML that shows it
                html_part.add_related(a.content, maintype=main, subtype=sub, cid=f"<{a.content_id}>", filename=a.filename)
        for a in batch.attachments:
            if not a.content_id:
                main, sub = a.mime_type.split("/", 1)
                msg.add_attachment(a.content, maintype=main, subtype=sub, filename=a.filename)
    return msg


class OutboxTransport:
    """Writes ``<outbox>/<folder>/<send_key>.eml``."""

    name = "outbox"

    def __init__(self, root: Path | None = None) -> None:
        self.root = Path(root) if root else outbox_dir()

    def path(self, folder: str, send_key: str) -> Path:
        return self.root / folder / file_name(send_key)

    def send(self, batch: Batch) -> str | None:
        folder = self.root / batch.folder
        folder.mkdir(parents=True, exist_ok=True)
        for r in batch.recipients:
            data = build_message(batch, r).as_bytes()
            final = folder / file_name(r.send_key)
            tmp = final.with_suffix(".eml.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, final)  # atomic: a crash leaves either no file or the whole message
        log.info("wrote %d invitations of batch %s to %s", len(batch.recipients), batch.batch_id, folder)
        return None

    def delivered(self, folder: str, send_keys: list[str]) -> set[str]:
        """The send keys whose message is already in the outbox (evidence for reconciliation)."""
        return {k for k in send_keys if self.path(folder, k).is_file()}
