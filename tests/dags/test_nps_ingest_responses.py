"""nps_ingest_responses: shape, parse cost, and dag.test() end to end on a DuckDB warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pendulum

from tests.ingest.conftest import SECRET, insert_ledger, ledger_frame

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "nps_ingest_responses.py"


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILE)).dags["nps_ingest_responses"]


def test_dag_shape(airflow_db):
    dag = _dag()
    assert type(dag.timetable).__name__ == "CronTriggerTimetable"
    assert dag.catchup is False and dag.max_active_runs == 1
    assert dag.default_args["retries"] >= 2 and dag.owner == "cx-data" and dag.doc_md
    assert [t.task_id for t in dag.topological_sort()][:4] == [
        "migrate_warehouse", "landing_has_files", "ingest_events", "ingest_responses"]
    assert [o.name for o in dag.get_task("publish_responses").outlets] == ["nps_responses"]
    assert dag.get_task("publish_responses").upstream_task_ids == {"ingest_responses"}
    assert dag.get_task("check_rejected_files").upstream_task_ids == {"ingest_events", "ingest_responses"}


def test_parses_without_heavy_imports():
    code = (
        "import sys, runpy; "
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r}); runpy.run_path({str(DAG_FILE)!r}); "
        "print(sorted(m for m in ('pandas', 'great_expectations', 'duckdb', 'duckdb_engine', 'numpy') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def _asset_events(dr) -> int:
    """nps_responses events emitted by this run only (the Airflow database is shared by the test session)."""
    import sqlalchemy as sa
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        return session.scalar(
            sa.select(sa.func.count()).select_from(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == "nps_responses", AssetEvent.source_dag_id == dr.dag_id,
                   AssetEvent.source_run_id == dr.run_id)
        )


def test_end_to_end(airflow_db, tmp_path, monkeypatch):
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    landing = tmp_path / "landing"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    monkeypatch.setenv("NPS_LANDING_URI", str(landing))
    monkeypatch.setenv("NPS_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-11-10T12:00:00")
    wh = Warehouse(url)
    wh.migrate()
    insert_ledger(wh, ledger_frame())
    s = TokenSigner(SECRET)
    (landing / "responses").mkdir(parents=True)
    (landing / "events").mkdir()
    (landing / "responses" / "2026-11-03.csv").write_text(
        "token,score,comment,responded_at,locale\r\n"
        f"{s.sign('S-NPS-1', 'nps', 9)},9,Great support,2026-11-03T10:00:00Z,en\r\n"
        f"{s.sign('S-NPS-2', 'nps')},11,,2026-11-03T10:00:00Z,en\r\n"
        f"{s.sign('S-CSAT-1', 'csat')},4,,2026-11-03T11:00:00Z,en\r\n"
    )
    (landing / "responses" / "2026-11-04.csv").write_bytes(b"\x00\x01garbage")  # no usable header
    (landing / "events" / "2026-11-03.json").write_text(json.dumps([
        {"email": "a@example.com", "timestamp": 1762160400, "event": "delivered", "sg_event_id": "e1", "send_key": "K-S-NPS-1"},
        {"email": "a@example.com", "timestamp": 1762160400, "event": "delivered", "sg_event_id": "e1", "send_key": "K-S-NPS-1"},
        {"email": "b@example.com", "timestamp": 1762160500, "event": "bounce", "sg_event_id": "e2", "send_key": "K-S-NPS-2"},
    ]))

    dag = _dag()
    dr = dag.test(logical_date=pendulum.datetime(2026, 11, 10, 12, tz="UTC"))
    # The unparseable file makes the run fail visibly, after everything else loaded and published.
    assert str(dr.state).rsplit(".", 1)[-1].lower() == "failed"
    assert _states(dr) == {
        "migrate_warehouse": "success", "landing_has_files": "success", "ingest_events": "success",
        "ingest_responses": "success", "publish_responses": "success",
        "check_rejected_files": "failed",
    }
    assert _asset_events(dr) == 1
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses") == 2
    assert wh.scalar("SELECT COUNT(*) FROM ops.quarantine") == 1
    assert wh.scalar("SELECT MAX(loaded_at) FROM ops.raw_responses").isoformat() == "2026-11-10T12:00:00"
    files = {x["path"]: (x["status"], x["rows_read"], x["rows_loaded"], x["rows_quarantined"], x["rows_duplicate"])
             for x in wh.query("SELECT * FROM ops.ingest_files")}
    assert files == {
        "responses/2026-11-03.csv": ("loaded", 3, 2, 1, 0),
        "responses/2026-11-04.csv": ("rejected", 0, 0, 0, 0),
        "events/2026-11-03.json": ("loaded", 3, 2, 0, 1),
    }
    assert wh.scalar("SELECT COUNT(*) FROM ops.suppressions") == 1
    assert sorted(p.name for p in (landing / "rejected" / "responses").iterdir())[0].endswith("_2026-11-04.csv")

    # Nothing new: the cheap check skips itself and the rest of the run; nothing is published.
    dr2 = dag.test(logical_date=pendulum.datetime(2026, 11, 10, 12, 15, tz="UTC"))
    assert str(dr2.state).rsplit(".", 1)[-1].lower() == "success"
    states = _states(dr2)
    assert states["migrate_warehouse"] == "success"
    assert {states[t] for t in ("landing_has_files", "ingest_events", "ingest_responses", "publish_responses",
                                "check_rejected_files")} == {"skipped"}
    assert _asset_events(dr2) == 0
