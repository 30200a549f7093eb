"""nps_kpi_reports_*: shape, and dag.test() of the monthly report on the hand-made fixture."""

from __future__ import annotations

from pathlib import Path

import pendulum
import yaml

from tests.reports.helpers import build_fixture, config_with

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "nps_kpi_reports.py"


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(DAG_FILE))
    assert bag.import_errors == {}
    return bag.dags


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def test_dag_shapes(airflow_db):
    dags = _dags()
    assert sorted(dags) == ["nps_kpi_reports_monthly", "nps_kpi_reports_quarterly", "nps_kpi_reports_weekly"]
    for kind, cron in (("weekly", "30 6 * * 1"), ("monthly", "30 6 1 * *"), ("quarterly", "30 6 1 1,4,7,10 *")):
        dag = dags[f"nps_kpi_reports_{kind}"]
        assert type(dag.timetable).__name__ == "CronDataIntervalTimetable" and dag.timetable.expression == cron
        assert dag.catchup is False and dag.max_active_runs == 1
        assert set(dag.params) == {"resend", "period_start", "only", "dry_run"}
        assert all(dag.params.get_param(k).description for k in dag.params)
    q = dags["nps_kpi_reports_quarterly"]
    assert [t.task_id for t in q.topological_sort()] == [
        "migrate_warehouse", "render_and_archive", "needs_approval", "approve_qbr_pack", "send_reports"]
    assert type(q.get_task("approve_qbr_pack")).__name__ == "ApprovalOperator"
    assert q.get_task("approve_qbr_pack").ignore_downstream_trigger_rules is True
    assert [t.task_id for t in dags["nps_kpi_reports_monthly"].topological_sort()] == [
        "migrate_warehouse", "render_and_archive", "send_reports"]
    # The DAG is a composition of the project's operators (the same blocks a data engineer reuses).
    m = dags["nps_kpi_reports_monthly"]
    assert [type(m.get_task(t)).__name__ for t in ("migrate_warehouse", "render_and_archive", "send_reports")] == [
        "MigrateWarehouseOperator", "RenderReportsOperator", "SendReportsOperator"]
    assert (m.get_task("send_reports").kind, m.get_task("send_reports").resend) == ("monthly", "{{ params.resend }}")


def test_monthly_run_end_to_end(airflow_db, program_config, tmp_path, monkeypatch):
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    config = config_with(program_config)
    cfg_path = tmp_path / "program.yaml"
    cfg_path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), allow_unicode=True), encoding="utf-8")
    for k, v in {"AIRFLOW_CONN_NPS_WAREHOUSE": url, "NPS_PROGRAM_CONFIG": str(cfg_path), "NPS_EMAIL_TRANSPORT": "outbox",
                 "NPS_OUTBOX_DIR": str(tmp_path / "outbox"), "NPS_REPORTS_URI": str(tmp_path / "reports")}.items():
        monkeypatch.setenv(k, v)
    wh = Warehouse(url)
    wh.migrate()
    build_fixture(wh, config)
    wh.dispose()

    dag = _dags()["nps_kpi_reports_monthly"]
    for t in dag.tasks:
        t.retries = 0
    # The run after November: its data interval ends 2026-12-01 06:30, so it reports November.
    dr = dag.test(logical_date=pendulum.datetime(2026, 12, 1, 6, 30, tz="UTC"))
    # Everyone with a valid address got the report; the malformed one failed the task, named.
    assert _states(dr) == {"migrate_warehouse": "success", "render_and_archive": "success", "send_reports": "failed"}
    emls = sorted(p.name for p in (tmp_path / "outbox" / "reports_monthly_2026-11").glob("*.eml"))
    assert len(emls) == 5
    wh = Warehouse(url)
    ledger = wh.query("SELECT kind, scope, status, transport, COUNT(*) AS n FROM ops.message_ledger "
                      "GROUP BY kind, scope, status, transport")
    wh.dispose()
    assert ledger == [{"kind": "report", "scope": "report/monthly/2026-11", "status": "sent", "transport": "outbox", "n": 5}]
    assert (tmp_path / "reports" / "monthly" / "2026-11" / "all" / "en" / "report.html").is_file()
    assert "November 2026" in (tmp_path / "reports" / "index.html").read_text(encoding="utf-8")
