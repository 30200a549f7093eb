"""nps_dispatch_surveys end to end: dag.test() on demo data, DuckDB warehouse, local outbox."""

from __future__ import annotations

import email
import subprocess
import sys
import time
from datetime import datetime
from email import policy
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_dag_shape(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert [t.task_id for t in dag.topological_sort()] == ["migrate_warehouse", "select_cohort", "send_invitations"]
    outlets = dag.get_task("send_invitations").outlets
    assert [o.name for o in outlets] == ["nps_invitations"]
    assert dag.catchup is False and dag.max_active_runs == 1


def test_parses_fast_without_heavy_imports():
    code = (
        "import sys, time; t = time.perf_counter(); import runpy; "
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r}); runpy.run_path({str(ROOT / 'dags' / 'nps_dispatch_surveys.py')!r}); "
        "print(time.perf_counter() - t); "
        "print(sorted(m for m in ('pandas', 'sendgrid', 'duckdb', 'duckdb_engine', 'psycopg', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[1] == "[]"


@pytest.mark.timeout(280)  # a failing task would wait for its retry delay
def test_end_to_end_on_demo_data(airflow_db, tmp_path, monkeypatch, program_config):
    from nps.demo.generator import generate, load_base
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=400))

    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]
    t0 = time.monotonic()
    dr = dag.test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    start = dr.data_interval_start.replace(tzinfo=None)
    assert (dr.data_interval_end - dr.data_interval_start).total_seconds() == 86400

    cohort = wh.query("SELECT * FROM ops.cohort_runs")
    assert len(cohort) == 1 and cohort[0]["interval_start"] == start
    c = cohort[0]
    assert c["due"] == sum(c[k] for k in ("churned", "no_consent", "suppressed", "fatigue", "relationship_wins", "account_cap", "selected"))
    assert c["selected"] > 20
    ledger = wh.query("SELECT status, transport, COUNT(*) AS n FROM ops.survey_invitations GROUP BY status, transport")
    assert ledger == [{"status": "sent", "transport": "outbox", "n": c["selected"]}]
    sent_at = wh.scalar("SELECT MIN(sent_at) FROM ops.survey_invitations")
    assert sent_at == datetime(2026, 10, 6, 6, 5)  # the pinned clock, not the wall clock

    folder = tmp_path / "outbox" / start.strftime("%Y-%m-%dT%H%M")
    files = sorted(folder.glob("*.eml"))
    assert len(files) == c["selected"]
    subjects = {email.message_from_bytes(f.read_bytes(), policy=policy.default)["Subject"] for f in files}
    assert "Czy polecisz Acme Customer Success?" in subjects or "Jak oceniasz ostatni kontakt z nami?" in subjects
    assert any(s.startswith("How ") or s.startswith("Was it") for s in subjects)

    # Rerunning the same interval (a new run id) reuses the cohort and sends nothing again.
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    dr2 = dag.test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
    assert str(dr2.state) in ("success", "DagRunState.SUCCESS")
    assert wh.query("SELECT run_id, selected FROM ops.cohort_runs") == [{"run_id": c["run_id"], "selected": c["selected"]}]
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == c["selected"]
    assert {f: f.stat().st_mtime_ns for f in sorted(folder.glob("*.eml"))} == mtimes
    wh.dispose()
    assert time.monotonic() - t0 < 300


@pytest.mark.parametrize("forced", ["carrier-pigeon"])
def test_bad_forced_transport_is_named(monkeypatch, program_config, forced):
    from nps.email.transports import TransportConfigError, transport_from_airflow

    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", forced)
    with pytest.raises(TransportConfigError, match="use one of outbox, smtp, sendgrid"):
        transport_from_airflow(program_config)
