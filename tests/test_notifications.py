"""Failure notifications (nps.notifications): what they say, what they never say, where they go.

SMTP through the SMTP provider's own ``SmtpNotifier`` to a local SMTP server the test starts; the
outbox in the embedded project; a loud log line (and nothing else) in a deployment without a
channel; and a real ``dag.test()`` whose first task fails sends exactly one notification per try.
"""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path
from types import SimpleNamespace

import pendulum
import pytest

from nps.notifications import FailureNotifier, failure_from_context, redact
from tests.support.smtp_server import SmtpSink

ROOT = Path(__file__).resolve().parents[1]
LOG_URL = "http://airflow.internal:8080/dags/nps_build_marts/runs/manual__2026-12-01/tasks/build_staging?try_number=3"


def _context(error: BaseException) -> dict:
    ti = SimpleNamespace(dag_id="nps_build_marts", task_id="build_staging", run_id="manual__2026-12-01", try_number=3,
                         log_url=LOG_URL)
    return {"ti": ti, "run_id": ti.run_id, "exception": error}


ERROR = ValueError("row 12 of contacts.csv: jane.doe@example.com is suppressed; warehouse "
                   "postgresql://loader:s3cret-pw@db.internal:5432/nps refused\nTraceback line two")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("to jane.doe@example.com", "to j***@example.com", id="email"),
        pytest.param("postgresql://loader:s3cret@db:5432/nps", "postgresql://loader:***@db:5432/nps", id="url-password"),
        pytest.param("no secrets here", "no secrets here", id="plain"),
    ],
)
def test_redact(text, expected):
    assert redact(text) == expected


def test_the_message_says_what_on_call_needs_and_nothing_more():
    f = failure_from_context(_context(ERROR))
    assert (f.dag_id, f.task_id, f.run_id, f.try_number, f.log_url) == (
        "nps_build_marts", "build_staging", "manual__2026-12-01", 3, LOG_URL)
    assert f.error == ("ValueError: row 12 of contacts.csv: j***@example.com is suppressed; warehouse "
                       "postgresql://loader:***@db.internal:5432/nps refused")
    assert f.subject == "[nps] nps_build_marts.build_staging failed (try 3)"
    for text in (f.text, f.html):
        assert "jane.doe" not in text and "s3cret" not in text and "Traceback line two" not in text


@pytest.fixture
def deployed(monkeypatch):
    for name in ("NPS_EMBEDDED", "NPS_ALERT_EMAIL", "AIRFLOW_CONN_NPS_ALERTS_SMTP", "AIRFLOW_CONN_NPS_SMTP",
                 "AIRFLOW_CONN_NPS_ALERTS_SLACK", "AIRFLOW_CONN_NPS_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)


def test_smtp_through_the_providers_notifier(deployed, monkeypatch, tmp_path):
    with SmtpSink() as sink:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_ALERTS_SMTP", json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
            "extra": {"disable_tls": True, "disable_ssl": True, "timeout": 10}}))
        monkeypatch.setenv("NPS_ALERT_EMAIL", "oncall@example.org, data-team@example.org")
        assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == ["smtp"]
    assert len(sink.messages) == 1
    rcpts, raw = sink.messages[0]
    assert sorted(rcpts) == ["data-team@example.org", "oncall@example.org"]
    msg = email.message_from_bytes(raw, policy=policy.default)
    assert msg["Subject"] == "[nps] nps_build_marts.build_staging failed (try 3)"
    body = msg.get_body(("html", "plain")).get_content()
    for part in ("nps_build_marts", "build_staging", "manual__2026-12-01", "<td>3</td>", "j***@example.com", LOG_URL.replace("&", "&amp;")):
        assert part in body, part
    assert "jane.doe" not in body and "s3cret" not in body
    assert list(tmp_path.iterdir()) == []  # delivered: no outbox copy


def test_embedded_project_without_a_channel_writes_to_the_outbox(deployed, monkeypatch, tmp_path):
    monkeypatch.setenv("NPS_EMBEDDED", "1")
    assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == ["outbox"]
    [path] = (tmp_path / "alerts").iterdir()
    assert path.name == "nps_build_marts.build_staging.manual__2026-12-01.try3.eml"
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    assert msg["Subject"] == "[nps] nps_build_marts.build_staging failed (try 3)"
    assert f"Log: {LOG_URL}" in msg.get_content() and "jane.doe" not in msg.get_content()


def test_deployment_without_a_channel_says_so_in_the_log(deployed, tmp_path, caplog):
    caplog.set_level("ERROR", logger="nps.notifications")
    assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == []
    assert "no failure-notification channel: add the connection nps_alerts_smtp (SMTP) with NPS_ALERT_EMAIL" in caplog.text
    assert "jane.doe" not in caplog.text and not (tmp_path / "alerts").exists()


def test_every_program_dag_notifies_on_failure(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    program = sorted(d for d in bag.dags if d.startswith("nps_"))
    assert {"nps_dispatch_surveys", "nps_ingest_responses", "nps_build_marts", "nps_kpi_reports_weekly",
            "nps_kpi_reports_monthly", "nps_kpi_reports_quarterly"} <= set(program)
    for dag_id in program:
        for task in bag.dags[dag_id].tasks:
            callbacks = task.on_failure_callback if isinstance(task.on_failure_callback, list) else [task.on_failure_callback]
            assert any(isinstance(c, FailureNotifier) for c in callbacks), (dag_id, task.task_id)


def test_a_failed_task_in_a_dag_run_notifies_once(airflow_db, monkeypatch, tmp_path):
    """dag.test() of the marts DAG with its warehouse pointing nowhere: the first task fails at once
    (no retry) and exactly one notification lands in the outbox."""
    from airflow.dag_processing.dagbag import DagBag

    monkeypatch.setenv("NPS_EMBEDDED", "1")
    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", json.dumps({"conn_type": "nps_warehouse", "extra": {"engine": "mysql"}}))
    for name in ("NPS_ALERT_EMAIL", "AIRFLOW_CONN_NPS_ALERTS_SMTP", "AIRFLOW_CONN_NPS_SMTP", "AIRFLOW_CONN_NPS_ALERTS_SLACK"):
        monkeypatch.delenv(name, raising=False)
    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_build_marts.py")).dags["nps_build_marts"]
    dag.test(logical_date=pendulum.datetime(2026, 12, 1, 5, 30, tz="UTC"))
    alerts = sorted(p.name for p in (tmp_path / "outbox" / "alerts").iterdir())
    assert len(alerts) == 1 and alerts[0].startswith("nps_build_marts.migrate_warehouse.") and alerts[0].endswith(".try1.eml")
    msg = email.message_from_bytes((tmp_path / "outbox" / "alerts" / alerts[0]).read_bytes(), policy=policy.default)
    text = msg.get_content()
    assert "Error: AirflowFailException: connection 'nps_warehouse': engine 'mysql'; use postgresql or duckdb" in text, text
    assert "Try: 1" in text and "/dags/nps_build_marts/runs/" in text and "tasks/migrate_warehouse?try_number=1" in text
