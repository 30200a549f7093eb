"""The hooks: lazy connection lookup, URLs from every kind of connection, missing connections
named, the warehouse context manager on both engines, SendGrid through a local HTTP server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from nps.hooks import ConnectionMissingError, EmailTransportHook, SendGridHook, SurveyTokenHook, WarehouseHook


def _conn_env(monkeypatch, conn_id: str, **fields) -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(fields))


# -- warehouse ----------------------------------------------------------------------------------
def test_construction_touches_no_connection(monkeypatch):
    from airflow.sdk import BaseHook

    def boom(*a, **k):
        raise AssertionError("a connection was read at construction")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(boom))
    hooks = [WarehouseHook("nps_nowhere"), SendGridHook("nps_nowhere"), SurveyTokenHook("nps_nowhere"),
             EmailTransportHook(sendgrid_conn_id="nps_nowhere")]
    assert [repr(h) for h in hooks[:3]] == [
        "WarehouseHook(conn_id='nps_nowhere')", "SendGridHook(conn_id='nps_nowhere')", "SurveyTokenHook(conn_id='nps_nowhere')"]


@pytest.mark.parametrize(
    ("fields", "url"),
    [
        pytest.param({"conn_type": "nps_warehouse", "extra": {"engine": "duckdb", "duckdb_path": "/srv/nps/wh.duckdb"}},
                     "duckdb:////srv/nps/wh.duckdb", id="nps-warehouse-duckdb"),
        pytest.param({"conn_type": "nps_warehouse", "host": "db.internal", "port": 5433, "schema": "nps",
                      "login": "loader", "password": "p@ss:w/rd"},
                     "postgresql+psycopg://loader:p%40ss%3Aw%2Frd@db.internal:5433/nps", id="nps-warehouse-postgresql"),
        pytest.param({"conn_type": "nps_warehouse", "extra": {"extra__nps_warehouse__duckdb_path": "/x.duckdb"}},
                     "duckdb:////x.duckdb", id="ui-prefixed-extra"),
        pytest.param({"conn_type": "generic", "extra": {"sqlalchemy_url": "duckdb:////y.duckdb"}},
                     "duckdb:////y.duckdb", id="sqlalchemy-url-extra"),
        pytest.param({"conn_type": "postgres", "host": "h", "schema": "d", "login": "u"},
                     "postgresql+psycopg://u@h/d", id="postgres-type"),
    ],
)
def test_url_from_connection(monkeypatch, fields, url):
    _conn_env(monkeypatch, "nps_wh_case", **fields)
    assert WarehouseHook("nps_wh_case").get_uri() == url


def test_password_never_in_masked_url(monkeypatch):
    _conn_env(monkeypatch, "nps_wh_case", conn_type="nps_warehouse", host="h", login="u", password="s3cret", schema="d")
    assert WarehouseHook("nps_wh_case").masked_uri() == "postgresql+psycopg://u:***@h/d"


def test_unsupported_connection_type_is_named(monkeypatch):
    from nps.hooks import WarehouseConfigError

    _conn_env(monkeypatch, "nps_wh_case", conn_type="mysql", host="h")
    with pytest.raises(WarehouseConfigError, match="connection 'nps_wh_case' has type 'mysql'"):
        WarehouseHook("nps_wh_case").get_uri()


def test_missing_connection_is_named():
    with pytest.raises(ConnectionMissingError, match=r"'nps_wh_missing' does not exist.*AIRFLOW_CONN_NPS_WH_MISSING"):
        WarehouseHook("nps_wh_missing").get_uri()


def test_default_connection_falls_back_to_the_embedded_duckdb(monkeypatch):
    from nps.warehouse import default_url

    monkeypatch.delenv("AIRFLOW_CONN_NPS_WAREHOUSE", raising=False)
    assert WarehouseHook().get_uri() == default_url()


@pytest.mark.parametrize("engine", ["duckdb", "postgresql"])
def test_warehouse_context_on_both_engines(request, monkeypatch, engine):
    url = request.getfixturevalue("duckdb_url" if engine == "duckdb" else "pg_url")
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", url)
    hook = WarehouseHook("nps_wh_case")
    with hook.warehouse() as wh:
        wh.migrate()
        assert (wh.dialect, wh.schema_version()) == (engine, wh.migrations()[-1][0])
        with wh.begin() as conn:
            wh.run_sql(conn, "CREATE TABLE ops.hook_probe (n INTEGER); INSERT INTO ops.hook_probe VALUES (41), (1)")
        assert wh.scalar("SELECT SUM(n) FROM ops.hook_probe") == 42
    assert hook.test_connection() == (True, f"connected to {hook.masked_uri()} ({engine})")
    if engine == "duckdb":
        import duckdb

        # Disposed: the file is free for another writer (the UI, the next task).
        con = duckdb.connect(url.removeprefix("duckdb:///"))
        assert con.execute("SELECT COUNT(*) FROM ops.hook_probe").fetchone() == (2,)
        con.close()


def test_test_connection_reports_an_unreachable_warehouse_without_its_password(monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", "postgresql://u:s3cret@127.0.0.1:1/d")
    ok, message = WarehouseHook("nps_wh_case").test_connection()
    assert not ok and "cannot connect to warehouse postgresql+psycopg://u:***@127.0.0.1:1/d" in message
    assert "s3cret" not in message


# -- survey token -------------------------------------------------------------------------------
def test_token_secrets_for_rotation(monkeypatch):
    from nps.tokens import TokenSigner

    _conn_env(monkeypatch, "nps_tok_case", conn_type="nps_survey_token",
              password="new-secret-0123456789, old-secret-0123456789\nolder-secret-0123456789,new-secret-0123456789")
    hook = SurveyTokenHook("nps_tok_case")
    assert hook.get_secrets() == ["new-secret-0123456789", "old-secret-0123456789", "older-secret-0123456789"]
    assert hook.get_secret() == "new-secret-0123456789"
    signer = hook.get_signer()
    token = signer.sign("S1", "nps", 9)
    assert TokenSigner("new-secret-0123456789").sign("S1", "nps", 9) == token  # the first secret signs
    old_token = TokenSigner("older-secret-0123456789").sign("S1", "nps", 9)
    assert signer.verify(old_token).answer == 9  # every secret of the rotation verifies
    assert "secret" not in repr(hook)


def test_token_secret_from_the_environment(monkeypatch):
    monkeypatch.setenv("NPS_TOKEN_SECRET", "env-one,env-two")  # split only: the signer checks lengths
    assert SurveyTokenHook("nps_tok_absent").get_secrets() == ["env-one", "env-two"]


def test_missing_token_secret_is_named(monkeypatch):
    monkeypatch.delenv("NPS_TOKEN_SECRET", raising=False)
    with pytest.raises(ConnectionMissingError, match=r"connection 'nps_tok_absent' \(type Survey token\).*NPS_TOKEN_SECRET"):
        SurveyTokenHook("nps_tok_absent").get_secrets()


# -- SendGrid and the transport choice ----------------------------------------------------------
class _MailSend(BaseHTTPRequestHandler):
    seen: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _MailSend.seen.append({"path": self.path, "auth": self.headers["Authorization"], "body": body})
        self.send_response(202)
        self.send_header("X-Message-Id", "msg-1")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def mail_send():
    server = HTTPServer(("127.0.0.1", 0), _MailSend)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _MailSend.seen = []
    yield f"http://127.0.0.1:{server.server_address[1]}", _MailSend.seen
    server.shutdown()
    server.server_close()
    thread.join()


def test_sendgrid_hook_sends_with_the_connection_settings(monkeypatch, program_config, mail_send):
    from nps.email.base import Batch, Recipient
    from nps.email.render import MessageTemplate

    url, seen = mail_send
    _conn_env(monkeypatch, "nps_sg_case", conn_type="nps_sendgrid", password="SG.key", host=url,
              extra={"extra__nps_sendgrid__timeout": 7, "sandbox_mode": True})
    client = SendGridHook("nps_sg_case").get_conn(program_config)
    assert (client.host, client.timeout, client.sandbox, client.max_retries) == (url, 7.0, True, 5)
    batch = Batch(batch_id="b1", template=MessageTemplate("nps", "en", "Hi", "text", "<p>html</p>"),
                  recipients=[Recipient(send_key="K1", survey_id="S1", email="a@example.com", name="A", substitutions={})],
                  folder="f", sender_name="Acme", sender_email="feedback@example.com", categories=["nps-invitation"])
    assert client.send(batch) == "msg-1"
    assert [(r["path"], r["auth"]) for r in seen] == [("/v3/mail/send", "Bearer SG.key")]
    assert seen[0]["body"]["mail_settings"] == {"sandbox_mode": {"enable": True}}
    assert seen[0]["body"]["personalizations"][0]["custom_args"] == {"survey_id": "S1", "send_key": "K1"}


def test_missing_sendgrid_connection_is_named(program_config):
    with pytest.raises(ConnectionMissingError, match=r"SendGrid connection 'nps_sg_absent' does not exist"):
        SendGridHook("nps_sg_absent").get_conn(program_config)


def test_transport_choice(monkeypatch, tmp_path, program_config):
    from nps.email.transports import TransportConfigError

    monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
    t = EmailTransportHook(transport="outbox", outbox_dir=tmp_path).get_conn(program_config)
    assert (t.name, t.root) == ("outbox", tmp_path)
    # Nothing configured: the outbox.
    assert EmailTransportHook(sendgrid_conn_id="nps_sg_absent", smtp_conn_id="nps_smtp_absent",
                              outbox_dir=tmp_path).get_conn(program_config).name == "outbox"
    # A SendGrid connection exists: SendGrid.
    _conn_env(monkeypatch, "nps_sg_case", conn_type="nps_sendgrid", password="SG.key")
    assert EmailTransportHook(sendgrid_conn_id="nps_sg_case").get_conn(program_config).name == "sendgrid"
    # An SMTP connection only: SMTP, with its fields.
    _conn_env(monkeypatch, "nps_smtp_case", conn_type="smtp", host="relay.internal", port=2525, extra={"starttls": "true"})
    smtp = EmailTransportHook(sendgrid_conn_id="nps_sg_absent", smtp_conn_id="nps_smtp_case").get_conn(program_config)
    assert (smtp.name, smtp.host, smtp.port, smtp.starttls) == ("smtp", "relay.internal", 2525, True)
    with pytest.raises(TransportConfigError, match="transport sendgrid but the connection 'nps_sg_absent' does not exist"):
        EmailTransportHook(transport="sendgrid", sendgrid_conn_id="nps_sg_absent").get_conn(program_config)
    with pytest.raises(TransportConfigError, match="transport='pigeon': use one of outbox, smtp, sendgrid"):
        EmailTransportHook(transport="pigeon").get_conn(program_config)
