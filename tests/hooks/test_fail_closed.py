"""Fail closed: outside the declared embedded project a missing warehouse, email or survey-token
connection fails the task at once (``AirflowFailException``, no retry), naming the connection and
how to set it; nothing is written to a local DuckDB file and no invitation is marked sent.

The embedded project is declared by ``NPS_EMBEDDED=1`` (the Makefile, the demo, tests/conftest.py)
or by the extra ``"embedded": true`` on the ``nps_warehouse`` connection (what ``make init``
creates). Each test here removes the environment's declaration first.
"""

from __future__ import annotations

import json
from pathlib import Path

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException

from nps.hooks import ConnectionMissingError, EmailTransportHook, WarehouseHook
from nps.hooks.base import embedded

ROOT = Path(__file__).resolve().parents[2]
INTERVAL = {"data_interval_start": "2026-10-05T06:00:00+00:00", "data_interval_end": "2026-10-06T06:00:00+00:00"}


@pytest.fixture
def deployed(monkeypatch):
    """A worker of a deployment: no embedded declaration, none of the program's connections."""
    for name in ("NPS_EMBEDDED", "NPS_EMAIL_TRANSPORT", "NPS_TOKEN_SECRET", "AIRFLOW_CONN_NPS_WAREHOUSE",
                 "AIRFLOW_CONN_NPS_SENDGRID", "AIRFLOW_CONN_NPS_SMTP", "AIRFLOW_CONN_NPS_SURVEY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    assert not embedded()


def _context():
    return {"run_id": "manual__fail_closed", "ti": None}


# -- the declaration ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("env", "extra", "expected"),
    [
        pytest.param(None, None, False, id="nothing-declared"),
        pytest.param("1", None, True, id="env-1"),
        pytest.param("0", {"embedded": True}, False, id="env-0-wins-over-the-connection"),
        pytest.param(None, {"engine": "duckdb", "duckdb_path": "/tmp/x.duckdb", "embedded": True}, True, id="connection-extra"),
        pytest.param(None, {"engine": "duckdb", "duckdb_path": "/tmp/x.duckdb"}, False, id="connection-without-the-extra"),
        pytest.param(None, {"extra__nps_warehouse__embedded": "true"}, True, id="ui-form-field"),
    ],
)
def test_embedded_is_declared_never_guessed(deployed, monkeypatch, env, extra, expected):
    if env is not None:
        monkeypatch.setenv("NPS_EMBEDDED", env)
    if extra is not None:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", json.dumps({"conn_type": "nps_warehouse", "extra": extra}))
    assert embedded() is expected


# -- warehouse ----------------------------------------------------------------------------------
def test_missing_warehouse_connection_fails_outside_the_embedded_project(deployed):
    with pytest.raises(ConnectionMissingError) as caught:
        WarehouseHook().get_uri()
    message = str(caught.value)
    assert message.startswith("the warehouse connection 'nps_warehouse' does not exist: add it (Admin -> Connections, "
                              "type NPS warehouse) or set AIRFLOW_CONN_NPS_WAREHOUSE=postgresql://")
    assert "NPS_EMBEDDED=1" in message
    assert isinstance(caught.value, AirflowFailException)  # fails at once: a retry finds the same configuration


def test_missing_warehouse_connection_uses_the_embedded_file_where_declared(deployed, monkeypatch):
    from nps.warehouse import default_url

    monkeypatch.setenv("NPS_EMBEDDED", "1")
    assert WarehouseHook().get_uri() == default_url()


def test_duckdb_connection_without_a_file_fails_outside_the_embedded_project(deployed, monkeypatch):
    from nps.hooks import WarehouseConfigError

    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", json.dumps({"conn_type": "duckdb"}))
    with pytest.raises(WarehouseConfigError, match="connection 'nps_warehouse': type duckdb needs the DuckDB file"):
        WarehouseHook().get_uri()


def test_operator_without_a_warehouse_fails_and_writes_no_file(deployed, monkeypatch, tmp_path):
    from nps.operators import MigrateWarehouseOperator
    from nps.warehouse import DEFAULT_DUCKDB_PATH

    before = DEFAULT_DUCKDB_PATH.stat().st_mtime_ns if DEFAULT_DUCKDB_PATH.exists() else None
    with pytest.raises(AirflowFailException, match="warehouse connection 'nps_warehouse' does not exist"):
        MigrateWarehouseOperator(task_id="m").execute(_context())
    after = DEFAULT_DUCKDB_PATH.stat().st_mtime_ns if DEFAULT_DUCKDB_PATH.exists() else None
    assert after == before  # the embedded file was neither created nor written


# -- email --------------------------------------------------------------------------------------
def test_no_email_connection_fails_outside_the_embedded_project(deployed, program_config, tmp_path):
    with pytest.raises(ConnectionMissingError) as caught:
        EmailTransportHook(outbox_dir=tmp_path).get_conn(program_config)
    message = str(caught.value)
    assert message.startswith("no email connection: neither 'nps_sendgrid' nor 'nps_smtp' exists.")
    for hint in ("AIRFLOW_CONN_NPS_SENDGRID", "AIRFLOW_CONN_NPS_SMTP", "NPS_EMAIL_TRANSPORT=outbox", "NPS_EMBEDDED=1"):
        assert hint in message
    assert isinstance(caught.value, AirflowFailException)
    assert list(tmp_path.iterdir()) == []


def test_outbox_where_declared(deployed, monkeypatch, program_config, tmp_path):
    # Forced on purpose: allowed anywhere.
    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", "outbox")
    assert EmailTransportHook(outbox_dir=tmp_path).get_conn(program_config).name == "outbox"
    monkeypatch.delenv("NPS_EMAIL_TRANSPORT")
    # The connection make init creates declares the embedded project.
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", json.dumps(
        {"conn_type": "nps_warehouse", "extra": {"engine": "duckdb", "duckdb_path": str(tmp_path / "w.duckdb"), "embedded": True}}))
    assert EmailTransportHook(outbox_dir=tmp_path).get_conn(program_config).name == "outbox"


def test_reports_transport_fails_outside_the_embedded_project(deployed, program_config):
    from nps.email.transports import transport_from_airflow

    with pytest.raises(ConnectionMissingError, match="neither 'nps_sendgrid' nor 'nps_smtp' exists"):
        transport_from_airflow(program_config)


def test_dispatch_without_email_connection_marks_nothing_sent(deployed, monkeypatch, tmp_path, program_config):
    """The same run sends every selected invitation to the outbox where the embedded project is
    declared, and outside it fails before the ledger claims a single one."""
    from nps.demo.generator import generate, load_base
    from nps.operators import DispatchSurveysOperator, SelectCohortOperator
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", url)
    monkeypatch.setenv("NPS_TOKEN_SECRET", "fail-closed-secret-0123456789abcdef")
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=150))
    selected = SelectCohortOperator(task_id="c", warehouse_conn_id="nps_wh_case", **INTERVAL).execute(_context())["selected"]
    assert selected > 0

    op = DispatchSurveysOperator(task_id="d", warehouse_conn_id="nps_wh_case", outbox_dir=str(tmp_path / "outbox"), **INTERVAL)
    with pytest.raises(AirflowFailException, match="no email connection: neither 'nps_sendgrid' nor 'nps_smtp' exists"):
        op.execute(_context())
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == 0
    assert not (tmp_path / "outbox").exists()

    monkeypatch.setenv("NPS_EMBEDDED", "1")
    summary = op.execute(_context())
    assert (summary["sent"], summary["transport"]) == (selected, "outbox")
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'") == selected
    wh.dispose()


# -- survey token -------------------------------------------------------------------------------
def test_ingest_without_token_secret_fails_naming_the_connection(deployed, monkeypatch, tmp_path):
    from nps.operators import IngestResponsesOperator

    monkeypatch.setenv("NPS_EMBEDDED", "1")  # even in the embedded project: there is no default secret
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    op = IngestResponsesOperator(task_id="r", warehouse_conn_id="nps_wh_case", landing_uri=str(tmp_path / "landing"))
    with pytest.raises(AirflowFailException, match=r"create the Airflow connection 'nps_survey_token' \(type Survey token\).*"
                                                   r"or set NPS_TOKEN_SECRET"):
        op.execute(_context())
    assert not (tmp_path / "warehouse.duckdb").exists()


# -- a real task run ----------------------------------------------------------------------------
def test_dag_run_without_warehouse_fails_its_first_task_without_retry(deployed, airflow_db, monkeypatch):
    """``dag.test()`` of the marts DAG as a worker without the connection runs it: the first task
    fails on its first try (no retry, no fallback) and nothing downstream runs."""
    from airflow.dag_processing.dagbag import DagBag
    from airflow.utils.session import create_session

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_build_marts.py")).dags["nps_build_marts"]
    dr = dag.test(logical_date=pendulum.datetime(2026, 12, 1, 5, 30, tz="UTC"))
    with create_session() as session:
        tis = {ti.task_id: (str(ti.state).rsplit(".", 1)[-1].lower(), ti.try_number) for ti in dr.get_task_instances(session=session)}
    assert tis["migrate_warehouse"] == ("failed", 1)
    assert {s for t, (s, _) in tis.items() if t != "migrate_warehouse"} == {"upstream_failed"}
