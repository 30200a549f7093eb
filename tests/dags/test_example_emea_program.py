"""docs/examples/nps_emea_program.py through dag.test(): a second program on its own warehouse
connection and config file, dispatch and ingestion only."""

from __future__ import annotations

import email
import json
from datetime import datetime
from email import policy
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "nps_emea_program.py"


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def _dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(EXAMPLE))
    assert bag.import_errors == {}
    return bag.dags["nps_emea_program"]


def test_not_loaded_by_default(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    assert "nps_emea_program" not in DagBag(dag_folder=str(ROOT / "dags")).dags


@pytest.mark.timeout(400)
def test_second_program_end_to_end(airflow_db, tmp_path, monkeypatch, program_config):
    from nps.demo.generator import generate, load_base
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    # dag.test() runs a DAG only from a configured DAG bundle: add docs/examples as a second one,
    # as a user adds their own DAGs folder.
    monkeypatch.setenv("AIRFLOW__DAG_PROCESSOR__DAG_BUNDLE_CONFIG_LIST", json.dumps([
        {"name": "dags-folder", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle", "kwargs": {}},
        {"name": "nps-examples", "classpath": "airflow.dag_processing.bundles.local.LocalDagBundle",
         "kwargs": {"path": str(EXAMPLE.parent)}},
    ]))
    url = f"duckdb:///{tmp_path / 'emea.duckdb'}"
    main = tmp_path / "main.duckdb"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE_EMEA", url)
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", f"duckdb:///{main}")  # the main program's: never touched
    monkeypatch.setenv("AIRFLOW_VAR_NPS_EMEA_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("AIRFLOW_VAR_NPS_EMEA_LANDING_URI", str(tmp_path / "landing"))
    monkeypatch.setenv("AIRFLOW_VAR_NPS_EMEA_SENDER", "ankiety@emea.example.com")
    monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=300))

    logical = pendulum.datetime(2026, 10, 6, 7, tz="Europe/Warsaw")  # the interval ending 10-06 05:00 UTC (summer time)
    dr = _dag().test(logical_date=logical)
    assert _states(dr) == {t: "success" for t in
                           ("migrate_warehouse", "select_cohort", "send_invitations", "ingest_events", "ingest_responses")}
    cohort = wh.query("SELECT interval_start, interval_end, selected FROM ops.cohort_runs")
    assert cohort == [{"interval_start": datetime(2026, 10, 5, 5), "interval_end": datetime(2026, 10, 6, 5),
                       "selected": cohort[0]["selected"]}]
    selected = cohort[0]["selected"]
    assert selected > 5
    # The EMEA config's rules, not the main program's: at most 10 invitations per account and cycle.
    assert wh.scalar("SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM ops.survey_invitations GROUP BY account_id, cycle) t") <= 10
    files = sorted((tmp_path / "outbox" / "2026-10-05T0500").glob("*.eml"))
    assert len(files) == selected == wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'")
    msg = email.message_from_bytes(files[0].read_bytes(), policy=policy.default)
    assert msg["From"].addresses[0].addr_spec == "ankiety@emea.example.com"  # Jinja in the YAML, from a Variable
    assert "feedback-emea.example.com/s" in msg.get_body(("plain",)).get_content()
    assert not main.exists()

    # An answer and a delivery event land; the same interval runs again: nothing is sent twice,
    # and the answer and the event load into the EMEA warehouse.
    inv = wh.query("SELECT send_key, survey_id, survey_type FROM ops.survey_invitations ORDER BY send_key LIMIT 1")[0]
    token = TokenSigner(__import__("os").environ["NPS_TOKEN_SECRET"]).sign(inv["survey_id"], inv["survey_type"], 3)
    for kind in ("responses", "events"):
        (tmp_path / "landing" / kind).mkdir(parents=True)
    (tmp_path / "landing" / "responses" / "a.csv").write_text(
        f"token,score,comment,responded_at,locale\r\n{token},3,Dobrze,2026-10-06T08:00:00Z,pl\r\n")
    (tmp_path / "landing" / "events" / "e.json").write_text(json.dumps([
        {"email": "x@example.com", "timestamp": 1759737600, "event": "delivered", "sg_event_id": "ev-1",
         "send_key": inv["send_key"]}]))
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T09:00:00")
    mtimes = [f.stat().st_mtime_ns for f in files]
    dr2 = _dag().test(logical_date=logical)
    assert set(_states(dr2).values()) == {"success"}
    assert [f.stat().st_mtime_ns for f in files] == mtimes
    assert wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == selected
    assert wh.query("SELECT survey_id, score FROM ops.raw_responses") == [{"survey_id": inv["survey_id"], "score": 3}]
    assert wh.scalar("SELECT COUNT(*) FROM ops.email_events") == 1
    assert not main.exists()
    wh.dispose()
