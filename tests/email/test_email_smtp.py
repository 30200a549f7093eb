"""SMTP transport (Mailpit / a relay) against a local SMTP server."""

from __future__ import annotations

import email
import threading
import warnings
from email import policy

import pytest

from nps.email.base import Batch, Recipient, TransientSendError
from nps.email.render import render_template, substitutions
from nps.email.smtp import SmtpTransport
from nps.email.transports import smtp_from_connection
from nps.tokens import TokenSigner

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd


class Sink(smtpd.SMTPServer):
    def __init__(self):
        super().__init__(("127.0.0.1", 0), None, decode_data=False)
        self.messages: list[tuple[list[str], bytes]] = []

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.messages.append((rcpttos, data))


@pytest.fixture
def sink():
    server = Sink()
    stop = threading.Event()
    t = threading.Thread(target=lambda: [asyncore.loop(timeout=0.05, count=1) for _ in iter(stop.is_set, True)], daemon=True)
    t.start()
    yield server
    stop.set()
    t.join(2)
    server.close()


def test_sends_each_invitation(sink, program_config):
    signer = TokenSigner("test-secret-not-for-production-0123456789")
    tmpl = render_template(program_config, "nps", "en")
    rs = [Recipient(f"relationship/nps/2026-Q4/P{i}", f"S{i}", f"p{i}@a1.example.com", f"P {i}",
                    substitutions(signer, f"S{i}", "nps", "P", "Co")) for i in (1, 2)]
    port = sink.socket.getsockname()[1]
    SmtpTransport("127.0.0.1", port).send(Batch("b1", tmpl, rs, "f", "Acme", "feedback@example.com"))
    assert [r for r, _ in sink.messages] == [["p1@a1.example.com"], ["p2@a1.example.com"]]
    msg = email.message_from_bytes(sink.messages[0][1], policy=policy.default)
    assert msg["Message-ID"] == "<S1@example.com>" and msg["X-NPS-Send-Key"] == "relationship/nps/2026-Q4/P1"
    assert msg["List-Unsubscribe"] == f"<https://feedback.example.com/unsubscribe?t={rs[0].substitutions['%nps_token%']}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_unreachable_server_is_transient(program_config):
    tmpl = render_template(program_config, "nps", "en")
    with pytest.raises(TransientSendError, match="cannot connect to SMTP 127.0.0.1:9"):
        SmtpTransport("127.0.0.1", 9, timeout=2).send(Batch("b1", tmpl, [], "f", "Acme", "feedback@example.com"))


def test_from_connection():
    class Conn:
        host, port, login, password = "mailpit", 1025, None, None
        extra_dejson = {"starttls": "false"}

    t = smtp_from_connection(Conn())
    assert (t.host, t.port, t.starttls, t.login) == ("mailpit", 1025, False, None)
