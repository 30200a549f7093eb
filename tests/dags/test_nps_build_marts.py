"""nps_build_marts: shape, and dag.test() end to end on a DuckDB warehouse (publish, then a failed audit)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pendulum

from tests.marts.helpers import Data, nps_team

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "nps_build_marts.py"


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILE)).dags["nps_build_marts"]


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def test_dag_shape(airflow_db):
    dag = _dag()
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.owner == "cx-data"
    assert [t.task_id for t in dag.topological_sort()] == ["migrate_warehouse", "build_staging", "audit_staging", "publish_marts"]
    assert [o.name for o in dag.get_task("publish_marts").outlets] == ["nps_marts"]
    assert all(t.retries >= 2 for t in dag.tasks)
    # Incremental by default; the Trigger form's full_rebuild reaches the build step only.
    assert dag.params["full_rebuild"] is False
    assert dag.get_task("build_staging").full_rebuild == "{{ params.full_rebuild }}"
    assert dag.get_task("audit_staging").full_rebuild is False


def test_end_to_end(airflow_db, tmp_path, monkeypatch):
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    wh = Warehouse(url)
    wh.migrate()
    d = Data()
    nps_team(d, "A1", [10, 10, 9, 9, 10, 8, 7, 8, 3, 6], datetime(2026, 10, 5, 10))
    d.load(wh)

    dag = _dag()
    dr = dag.test(logical_date=pendulum.datetime(2026, 12, 1, 5, 30, tz="UTC"))
    assert _states(dr) == {t: "success" for t in ("migrate_warehouse", "build_staging", "audit_staging", "publish_marts")}
    assert wh.scalar("SELECT nps FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                     "AND period_start = DATE '2026-10-01'") == 30
    assert wh.scalar("SELECT MAX(as_of) FROM marts.mart_churn_risk") == datetime(2026, 12, 1, 5, 30)
    published = wh.scalar("SELECT build_schema FROM ops.mart_builds WHERE status = 'published'")

    # An orphan answer: the audit fails the run and yesterday's marts stay published.
    with wh.begin() as conn:
        wh.run_sql(conn, "INSERT INTO ops.raw_responses VALUES ('R-x', 'S-ghost', 'nps', 0, NULL, "
                   "TIMESTAMP '2026-10-06 10:00:00', 'en', 'F9', 2, TIMESTAMP '2026-10-06 11:00:00')")
    dr2 = dag.test(logical_date=pendulum.datetime(2026, 12, 2, 5, 30, tz="UTC"))
    states = _states(dr2)
    assert states["audit_staging"] == "failed" and states["publish_marts"] == "upstream_failed"
    assert wh.scalar("SELECT build_schema FROM ops.mart_builds WHERE status = 'published'") == published
    assert wh.scalar("SELECT MAX(as_of) FROM marts.mart_churn_risk") == datetime(2026, 12, 1, 5, 30)
    wh.dispose()
