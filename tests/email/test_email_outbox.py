"""The local outbox: readable .eml files, one folder per interval, evidence for reconciliation."""

from __future__ import annotations

import email
from email import policy

from nps.email.base import Batch, Recipient
from nps.email.outbox import OutboxTransport
from nps.email.render import render_template, substitutions
from nps.email.transports import transport_from_airflow
from nps.tokens import TokenSigner


def test_writes_standard_eml(tmp_path, program_config):
    signer = TokenSigner("test-secret-not-for-production-0123456789")
    tmpl = render_template(program_config, "ces", "pl")
    r = Recipient("transactional/ces/2026-Q4/P1/E9", "Sabc", "zofia.nowak@a1.example.com", "Zofia Nowak",
                  substitutions(signer, "Sabc", "ces", "Zofia", "Tatra Steel"))
    out = OutboxTransport(tmp_path)
    out.send(Batch("b1", tmpl, [r], "2026-10-05T0600", "Acme Customer Success", "feedback@example.com"))
    path = tmp_path / "2026-10-05T0600" / "transactional_ces_2026-Q4_P1_E9.eml"
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "Czy było łatwo załatwić sprawę?"
    assert msg["To"] == "Zofia Nowak <zofia.nowak@a1.example.com>"
    assert msg["From"] == "Acme Customer Success <feedback@example.com>"
    assert msg["Message-ID"] == "<Sabc@example.com>"
    assert msg["X-NPS-Send-Key"] == "transactional/ces/2026-Q4/P1/E9"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert text.startswith("Dzień dobry Zofia,")
    tok = r.substitutions["%nps_token%"]
    assert html.count(f'href="https://feedback.example.com/s?t={tok}&amp;score=') == 7
    assert f"  7: https://feedback.example.com/s?t={tok}&score=7\n" in text
    # RFC 8058 one-click unsubscribe: the recipient's own unsubscribe URL, exactly.
    assert msg["List-Unsubscribe"] == f"<https://feedback.example.com/unsubscribe?t={tok}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    raw = path.read_bytes()  # verbatim on one line, never an RFC 2047 encoded-word
    assert f"\nList-Unsubscribe: <https://feedback.example.com/unsubscribe?t={tok}>\n".encode() in raw
    assert out.delivered("2026-10-05T0600", ["transactional/ces/2026-Q4/P1/E9", "other"]) == {"transactional/ces/2026-Q4/P1/E9"}
    assert not list(tmp_path.rglob("*.tmp"))


def test_forced_outbox_transport(monkeypatch, tmp_path, program_config):
    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path))
    t = transport_from_airflow(program_config)
    assert t.name == "outbox" and t.root == tmp_path
