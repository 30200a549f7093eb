"""nps_close_the_loop: shape, and dag.test() end to end on DuckDB and on PostgreSQL: follow-ups,
owner alerts, the digest, an escalation days later, a case file, a dry run and a rerun."""

from __future__ import annotations

import email
import subprocess
import sys
from datetime import datetime, timedelta
from email import policy
from pathlib import Path

import pendulum

from tests.cohorts.helpers import account, contact
from tests.followups.helpers import answer, answers, seed

ROOT = Path(__file__).resolve().parents[2]
DAG_FILE = ROOT / "dags" / "nps_close_the_loop.py"
TASKS = ["migrate_warehouse", "apply_case_files", "decide_followups", "send_followups", "alert_owners",
         "escalate_cases", "send_digest", "post_crm_events"]
#: A real run: every task succeeds; the CRM webhook is off in the shipped config, so it is skipped.
OK = {**{t: "success" for t in TASKS[:-1]}, "post_crm_events": "skipped"}


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAG_FILE)).dags["nps_close_the_loop"]


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def _xcom(dr, task_id):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.query(XComModel).filter_by(dag_id=dr.dag_id, run_id=dr.run_id, task_id=task_id,
                                                 key="return_value").one()
        return XComModel.deserialize_value(row)


def test_dag_shape(airflow_db):
    dag = _dag()
    assert type(dag.timetable).__name__ == "AssetOrTimeSchedule"
    assert dag.catchup is False and dag.max_active_runs == 1 and dag.owner == "cx-data"
    assert [t.task_id for t in dag.topological_sort()] == TASKS
    assert [o.name for o in dag.get_task("send_followups").outlets] == ["nps_followups"]
    assert set(dag.params.keys()) == {"dry_run", "since"}
    assert all(t.retries >= 2 for t in dag.tasks) and dag.doc_md.strip().startswith("### nps_close_the_loop")


def test_parses_without_heavy_imports():
    code = (
        "import sys, runpy; "
        f"sys.path.insert(0, {str(ROOT / 'plugins')!r}); runpy.run_path({str(DAG_FILE)!r}); "
        "print(sorted(m for m in ('pandas', 'sendgrid', 'duckdb', 'duckdb_engine', 'psycopg', 'numpy') "
        "if m in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def test_end_to_end(airflow_db, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", warehouse.url)
    monkeypatch.setenv("NPS_EMAIL_TRANSPORT", "outbox")
    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("NPS_LANDING_URI", str(tmp_path / "landing"))
    fri = datetime(2026, 10, 9, 12, 10)  # Friday 14:10 in Warsaw (the shipped config's time zone)
    monkeypatch.setenv("NPS_FAKE_NOW", fri.isoformat())
    seed(warehouse, [("S1", "P1", "nps", "en"), ("S2", "P2", "nps", "pl"), ("S3", "P3", "ces", "en")],
         accounts=[account("A1", name="Smith & Sons")],
         contacts=[contact("P1", "A1"), contact("P2", "A1", locale="pl", first="Zoë"), contact("P3", "A1")])
    answers(warehouse, [answer("S1", "nps", 10, fri - timedelta(hours=3)),
                        answer("S2", "nps", 3, fri - timedelta(hours=3), comment="Za drogo <i>bardzo</i>"),
                        answer("S3", "ces", 6, fri - timedelta(hours=3))])
    dag = _dag()

    # A dry run decides and renders, and writes and sends nothing.
    dry = dag.test(logical_date=pendulum.datetime(2026, 10, 9, 11, 10, tz="UTC"), run_conf={"dry_run": True})
    assert _states(dry) == {**{t: "success" for t in TASKS[:3]}, **{t: "skipped" for t in TASKS[3:]}}
    assert _xcom(dry, "decide_followups")["would_send"] == {"detractor_apology.pl": 1, "promoter_referral.en": 1}
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.followup_decisions") == 0
    assert not (tmp_path / "outbox").exists()

    dag = _dag()  # dag.test(run_conf=...) leaves the conf in the DAG's params: a fresh DAG for a real run
    dr = dag.test(logical_date=pendulum.datetime(2026, 10, 9, 12, 10, tz="UTC"))
    assert _states(dr) == OK
    assert _xcom(dr, "decide_followups")["by_status"] == {"pending": 2, "not_needed": 1}
    sent = _xcom(dr, "send_followups")
    assert sent["to_send"] == 2 and sent["ledger"]["sent"] == 2
    # The digest: the CS lead's and, with followups.owner_digest (shipped: on), Alice's own.
    assert _xcom(dr, "alert_owners")["emails"] == 1 and _xcom(dr, "send_digest")["emails"] == 2
    folder = tmp_path / "outbox" / "followups_2026-10-09T1210"
    names = sorted(p.name for p in folder.iterdir())
    assert names[:2] == ["alert_" + names[0].split("_", 1)[1], "digest_2026-10-09_" + names[1].split("_", 2)[2]]
    assert names[2:4] == ["followup_S1.eml", "followup_S2.eml"] and names[4].startswith("owner-digest_2026-10-09_")
    owner = email.message_from_bytes((folder / names[4]).read_bytes(), policy=policy.default)
    assert owner["Subject"] == "Your feedback cases 2026-10-09: 1 open, 0 overdue" and owner["To"].addresses[0].addr_spec == "alice@example.com"
    pl = email.message_from_bytes((folder / "followup_S2.eml").read_bytes(), policy=policy.default)
    assert pl["Subject"] == "Przepraszamy: Twoja opinia trafiła do opiekuna konta"
    assert "Za drogo &lt;i&gt;bardzo&lt;/i&gt;" in pl.get_body("html").get_content()
    assert pl["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    statuses = {r["survey_id"]: r["status"] for r in warehouse.query("SELECT survey_id, status FROM ops.followup_decisions")}
    assert statuses == {"S1": "sent", "S2": "sent", "S3": "not_needed"}

    # Tuesday 14:10 Warsaw, the case is overdue (due Tue 14:00 on the SLA clock): level 1. The
    # hourly run sends no follow-up, alert or digest twice.
    tue = datetime(2026, 10, 13, 12, 10)
    monkeypatch.setenv("NPS_FAKE_NOW", tue.isoformat())
    dr2 = dag.test(logical_date=pendulum.datetime(2026, 10, 13, 12, 10, tz="UTC"))
    assert _states(dr2) == OK
    assert _xcom(dr2, "escalate_cases")["by_level"] == {"1": 1}
    assert _xcom(dr2, "send_followups")["to_send"] == 0 and _xcom(dr2, "alert_owners")["emails"] == 0
    assert warehouse.scalar("SELECT escalation_level FROM ops.followup_cases WHERE case_id = 'C-S2'") == 1

    # The owner resolves it in the CRM export; the next run applies the case file.
    cases_dir = tmp_path / "landing" / "cases"
    cases_dir.mkdir(parents=True)
    (cases_dir / "crm-2026-10-13.csv").write_text(
        "case_id,status,note\nC-S2,resolved,called; discount agreed\nC-S9,resolved,\n", encoding="utf-8")
    dr3 = dag.test(logical_date=pendulum.datetime(2026, 10, 13, 13, 10, tz="UTC"))
    assert _states(dr3) == OK
    applied = _xcom(dr3, "apply_case_files")
    assert (applied["rows_read"], applied["rows_applied"], applied["rows_quarantined"], applied["rows_duplicate"]) == (2, 1, 1, 0)
    row = warehouse.query("SELECT status, resolution FROM ops.followup_cases WHERE case_id = 'C-S2'")[0]
    assert row == {"status": "resolved", "resolution": "called; discount agreed"}
    # 2 follow-ups, alert, escalation, the CS lead's and Alice's digests Fri + Tue.
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.message_ledger WHERE status = 'sent'") == 8
