"""nps_dispatch_surveys end to end: dag.test() on demo data, DuckDB warehouse, the strict SendGrid test server."""

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


def test_parses_without_heavy_imports():
    """Parse time itself is measured by make bench (benchmarks/bench_dag_parse.py), not here."""
    code = (
        "import sys, runpy; "
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r}); runpy.run_path({str(ROOT / 'dags' / 'nps_dispatch_surveys.py')!r}); "
        "print(sorted(m for m in ('pandas', 'sendgrid', 'duckdb', 'duckdb_engine', 'psycopg', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _states(dr) -> dict[str, tuple[str, int]]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: (str(ti.state).rsplit(".", 1)[-1].lower(), ti.try_number)
                for ti in dr.get_task_instances(session=session)}


def _sendgrid_connection(monkeypatch, key: str, host: str) -> None:
    import json

    monkeypatch.setenv("AIRFLOW_CONN_NPS_SENDGRID", json.dumps({"conn_type": "generic", "password": key,
                                                                "extra": {"host": host, "timeout": 10}}))


def _demo_warehouse(tmp_path, monkeypatch, program_config):
    from nps.demo.generator import generate, load_base
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
    monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=400))
    return wh


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]


def _names(dr) -> dict[str, str]:
    return {task: state for task, (state, _) in _states(dr).items()}


def _tries(dr) -> dict[str, int]:
    return {task: tries for task, (_, tries) in _states(dr).items()}


def _xcom(dr, task_id: str):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=dr.dag_id, run_id=dr.run_id, task_id=task_id, key="return_value").one()
        return row.value


@pytest.mark.timeout(280)  # a failing task would wait for its retry delay
def test_dry_run_manual_runs_and_reruns_on_the_outbox(airflow_db, tmp_path, monkeypatch, program_config):
    import json

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
    logical = pendulum.datetime(2026, 10, 6, 6, tz="UTC")
    start = datetime(2026, 10, 5, 6)  # a manual run's interval ends at its logical date: 10-05 06:00 .. 10-06 06:00

    # A dry run (the Trigger form's dry_run Param): the cohort is selected, nothing is claimed or sent.
    dry = dag.test(logical_date=logical, run_conf={"dry_run": True})
    assert _names(dry) == {"migrate_warehouse": "success", "select_cohort": "success", "send_invitations": "skipped"}
    cohort = wh.query("SELECT * FROM ops.cohort_runs")
    assert len(cohort) == 1 and cohort[0]["interval_start"] == start and cohort[0]["interval_end"] == datetime(2026, 10, 6, 6)
    c = cohort[0]
    assert c["due"] == sum(c[k] for k in ("churned", "no_consent", "suppressed", "fatigue", "relationship_wins", "account_cap", "selected"))
    assert c["selected"] > 20
    preview = _xcom(dry, "send_invitations")
    assert preview["dry_run"] is True and preview["would_send"] == c["selected"] and preview["statuses"] == {}
    assert sum(preview["by_template"].values()) == c["selected"] and preview["batches"] >= len(preview["by_template"])
    json.dumps(preview)
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == 0
    assert not (tmp_path / "outbox").exists()

    # dag.test() leaves the run_conf in the DAG object's params: parse the file again for a normal run.
    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]
    dr = dag.test(logical_date=logical)
    assert str(dr.state) in ("success", "DagRunState.SUCCESS"), dr.state
    summary = _xcom(dr, "send_invitations")
    assert (summary["sent"], summary["claimed"], summary["dry_run"]) == (c["selected"], c["selected"], False)
    assert summary["interval"] == {"start": "2026-10-05T06:00:00+00:00", "end": "2026-10-06T06:00:00+00:00",
                                   "source": "run"}
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

    # Rerunning the same interval (a new run id) reuses the cohort and sends nothing again; so does a
    # run triggered without a logical date an hour after the interval ended (its latest complete one).
    mtimes = {f: f.stat().st_mtime_ns for f in files}
    dr2 = dag.test(logical_date=logical)
    dr3 = dag.test(logical_date=None, run_after=pendulum.datetime(2026, 10, 6, 7, tz="UTC"))
    for run in (dr2, dr3):
        assert str(run.state) in ("success", "DagRunState.SUCCESS")
        assert _xcom(run, "send_invitations")["sent"] == 0
    assert dr3.logical_date is None
    assert _xcom(dr3, "select_cohort")["interval"]["source"] == "latest_complete"
    assert wh.query("SELECT run_id, selected FROM ops.cohort_runs") == [{"run_id": c["run_id"], "selected": c["selected"]}]
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == c["selected"]
    assert {f: f.stat().st_mtime_ns for f in sorted(folder.glob("*.eml"))} == mtimes
    wh.dispose()
    assert time.monotonic() - t0 < 300


@pytest.mark.timeout(120)
def test_broken_config_fails_at_once_and_nothing_else_runs(airflow_db, tmp_path, monkeypatch):
    bad = tmp_path / "program.yaml"
    bad.write_text((ROOT / "include" / "config" / "program.yaml").read_text().replace("batch_size: 1000", "batch_sise: 1000"))
    monkeypatch.setenv("NPS_PROGRAM_CONFIG", str(bad))
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]
    t0 = time.monotonic()
    dr = dag.test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
    assert time.monotonic() - t0 < 60  # no 5-minute retry delay
    assert _names(dr) == {"migrate_warehouse": "failed", "select_cohort": "upstream_failed",
                           "send_invitations": "upstream_failed"}
    assert _tries(dr)["migrate_warehouse"] == 1
    assert not (tmp_path / "warehouse.duckdb").exists()  # nothing touched


@pytest.mark.timeout(120)
@pytest.mark.parametrize("url", [
    pytest.param("postgresql://nps:s3cret@127.0.0.1:1/nps", id="unreachable-server"),
    pytest.param("mysql://nps:s3cret@127.0.0.1/nps", id="unsupported-url"),
])
def test_unreachable_or_bad_warehouse_fails_at_once(airflow_db, monkeypatch, caplog, url):
    import logging

    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    from airflow.dag_processing.dagbag import DagBag

    dag = DagBag(dag_folder=str(ROOT / "dags" / "nps_dispatch_surveys.py")).dags["nps_dispatch_surveys"]
    t0 = time.monotonic()
    with caplog.at_level(logging.INFO):
        dr = dag.test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
    assert time.monotonic() - t0 < 60
    assert _names(dr) == {"migrate_warehouse": "failed", "select_cohort": "upstream_failed",
                           "send_invitations": "upstream_failed"}
    assert _tries(dr)["migrate_warehouse"] == 1
    assert "s3cret" not in caplog.text


@pytest.mark.timeout(280)  # a failing task would wait for its retry delay
def test_end_to_end_on_demo_data_through_sendgrid(airflow_db, tmp_path, monkeypatch, program_config):
    from collections import Counter

    from tests.support.sendgrid_server import FakeSendGrid

    wh = _demo_warehouse(tmp_path, monkeypatch, program_config)
    with FakeSendGrid(api_key="SG.dag-test") as sg:
        _sendgrid_connection(monkeypatch, "SG.dag-test", sg.url)
        dag = _dag()
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
        assert ledger == [{"status": "sent", "transport": "sendgrid", "n": c["selected"]}]
        sent_at = wh.scalar("SELECT MIN(sent_at) FROM ops.survey_invitations")
        assert sent_at == datetime(2026, 10, 6, 6, 5)  # the pinned clock, not the wall clock

        # What the (strict) server accepted: every invitation of the ledger once, one request per template and locale.
        keys = [r["send_key"] for r in wh.query("SELECT send_key FROM ops.survey_invitations")]
        assert Counter(a["send_key"] for a in sg.accepted_custom_args()) == Counter(keys)
        groups = wh.query("SELECT survey_type, locale, COUNT(*) AS n FROM ops.survey_invitations GROUP BY survey_type, locale")
        assert len(sg.requests) == len(groups) == len(sg.accepted)
        subjects = {b["subject"] for b in sg.accepted}
        assert "Czy polecisz Acme Customer Success?" in subjects or "Jak oceniasz ostatni kontakt z nami?" in subjects
        assert any(s.startswith("How ") or s.startswith("Was it") for s in subjects)
        assert {r["provider_message_id"] for r in wh.query("SELECT DISTINCT provider_message_id FROM ops.survey_invitations")} == set(sg.message_ids)

        # Rerunning the same interval (a new run id) reuses the cohort and sends nothing again.
        dr2 = dag.test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
        assert str(dr2.state) in ("success", "DagRunState.SUCCESS")
        assert wh.query("SELECT run_id, selected FROM ops.cohort_runs") == [{"run_id": c["run_id"], "selected": c["selected"]}]
        assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == c["selected"]
        assert len(sg.requests) == len(groups)
    wh.dispose()
    assert time.monotonic() - t0 < 300


@pytest.mark.timeout(280)
def test_a_4xx_fails_the_task_without_retries(airflow_db, tmp_path, monkeypatch, program_config):
    from tests.support.sendgrid_server import FakeSendGrid

    wh = _demo_warehouse(tmp_path, monkeypatch, program_config)
    with FakeSendGrid(api_key="SG.the-real-key") as sg:
        _sendgrid_connection(monkeypatch, "SG.a-revoked-key", sg.url)  # SendGrid answers 401
        t0 = time.monotonic()
        dr = _dag().test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
        elapsed = time.monotonic() - t0
    assert str(dr.state).rsplit(".", 1)[-1].lower() == "failed"
    states = _states(dr)
    assert states["send_invitations"] == ("failed", 1)  # no second try: a retry cannot fix a 4xx
    assert [r["status"] for r in sg.requests] == [401] and sg.accepted == []
    assert elapsed < 200  # never waited for a 5-minute retry delay
    # The first batch failed (its error names the cause); the rest stays claimed for the rerun after the fix.
    ledger = {r["status"]: (int(r["n"]), r["e"]) for r in wh.query(
        "SELECT status, COUNT(*) AS n, MAX(error) AS e FROM ops.survey_invitations GROUP BY status")}
    first = min(wh.query("SELECT survey_type, locale, COUNT(*) AS n FROM ops.survey_invitations "
                         "GROUP BY survey_type, locale"), key=lambda r: (r["survey_type"], r["locale"]))
    assert ledger["failed"][0] == first["n"] and set(ledger) == {"claimed", "failed"}
    assert ledger["failed"][1].endswith("HTTP 401: -: The provided authorization grant is invalid, expired, or revoked")
    wh.dispose()


@pytest.mark.parametrize("forced", ["carrier-pigeon"])
def test_bad_forced_transport_is_named(monkeypatch, program_config, forced):
    from nps.email.transports import TransportConfigError, transport_from_airflow

    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", forced)
    with pytest.raises(TransportConfigError, match="use one of outbox, smtp, sendgrid"):
        transport_from_airflow(program_config)
