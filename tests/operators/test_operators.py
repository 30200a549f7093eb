"""The operators: templating, no connection at construction, missing connections and bad config
named (fail without retries), JSON summaries with real values on both engines."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pendulum
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from nps.operators import (
    BuildMartsOperator,
    CloseTheLoopOperator,
    DispatchSurveysOperator,
    IngestEventsOperator,
    IngestResponsesOperator,
    MigrateWarehouseOperator,
    RenderReportsOperator,
    SelectCohortOperator,
    SendReportsOperator,
)

ROOT = Path(__file__).resolve().parents[2]


class _TI:
    """Stands in for the task instance where an operator pushes its summary before skipping."""

    def __init__(self) -> None:
        self.pushed: dict[str, object] = {}

    def xcom_push(self, key: str, value) -> None:
        self.pushed[key] = value


def _context(**extra):
    return {"run_id": "manual__test", "ti": _TI(), **extra}


def _all_operators(**common):
    return [
        MigrateWarehouseOperator(task_id="m", **common),
        SelectCohortOperator(task_id="c", **common),
        DispatchSurveysOperator(task_id="d", **common),
        IngestEventsOperator(task_id="e", **common),
        IngestResponsesOperator(task_id="r", **common),
        BuildMartsOperator(task_id="b", **common),
        RenderReportsOperator(task_id="rr", kind="monthly", **common),
        SendReportsOperator(task_id="sr", kind="monthly", **common),
        CloseTheLoopOperator(task_id="cl", step="send_followups", **common),
    ]


# -- parse time ---------------------------------------------------------------------------------
def test_construction_and_dag_parsing_read_no_connection(monkeypatch, airflow_db):
    from airflow.dag_processing.dagbag import DagBag
    from airflow.sdk import BaseHook

    def boom(*a, **k):
        raise AssertionError("a connection was read at parse time")

    monkeypatch.setattr(BaseHook, "get_connection", classmethod(boom))
    ops = _all_operators(warehouse_conn_id="nps_nowhere")
    assert all("warehouse_hook" not in op.__dict__ for op in ops)  # built on first use, inside execute
    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {} and len(bag.dags) >= 3


def test_keyword_only_arguments():
    with pytest.raises(TypeError):
        SelectCohortOperator("c")  # the task id must be named too


def test_templating_renders_params_variables_and_a_config_file(tmp_path, monkeypatch):
    from airflow.sdk import DAG

    (tmp_path / "my_program.yaml").write_text(
        (ROOT / "include" / "config" / "program.yaml").read_text().replace(
            "email: feedback@example.com", "email: \"{{ params.sender }}\""))
    with DAG("t", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), template_searchpath=[str(tmp_path)],
             params={"dry_run": True}):
        op = DispatchSurveysOperator(
            task_id="d", config="my_program.yaml", warehouse_conn_id="wh_{{ params.region }}",
            dry_run="{{ params.dry_run }}", data_interval_start="{{ ds }}", data_interval_end="{{ next_ds }}",
            outbox_dir="/srv/outbox/{{ params.region }}",
        )
    op.resolve_template_files()
    op.render_template_fields({"params": {"dry_run": True, "region": "emea", "sender": "ankiety@example.com"},
                               "ds": "2026-10-05", "next_ds": "2026-10-06"})
    assert (op.warehouse_conn_id, op.dry_run, op.outbox_dir) == ("wh_emea", "True", "/srv/outbox/emea")
    assert (op.data_interval_start, op.data_interval_end) == ("2026-10-05", "2026-10-06")
    assert op.program_config().sender.email == "ankiety@example.com"
    assert DispatchSurveysOperator.template_ext == (".yaml", ".yml")


# -- errors a retry cannot fix ------------------------------------------------------------------
def test_missing_warehouse_connection_is_named():
    with pytest.raises(AirflowFailException, match="warehouse connection 'nps_wh_missing' does not exist"):
        MigrateWarehouseOperator(task_id="m", warehouse_conn_id="nps_wh_missing").execute(_context())


def test_bad_config_is_named(tmp_path, duckdb_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", duckdb_url)
    bad = (ROOT / "include" / "config" / "program.yaml").read_text().replace("batch_size: 1000", "batch_sise: 1000")
    with pytest.raises(AirflowFailException, match=r"dispatch\.batch_sise: unknown key"):
        MigrateWarehouseOperator(task_id="m", warehouse_conn_id="nps_wh_case", config=bad).execute(_context())
    assert not Path(duckdb_url.removeprefix("duckdb:///")).exists()  # failed before touching the warehouse


def test_missing_token_connection_is_named(duckdb_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", duckdb_url)
    monkeypatch.delenv("NPS_TOKEN_SECRET", raising=False)
    op = DispatchSurveysOperator(task_id="d", warehouse_conn_id="nps_wh_case", token_conn_id="nps_tok_missing",
                                 data_interval_start="2026-10-05T06:00:00Z", data_interval_end="2026-10-06T06:00:00Z")
    with pytest.raises(AirflowFailException, match="connection 'nps_tok_missing'"):
        op.execute(_context())


def test_run_without_logical_date_and_no_schedule_says_what_to_do(duckdb_url, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", duckdb_url)
    op = SelectCohortOperator(task_id="c", warehouse_conn_id="nps_wh_case")
    with pytest.raises(AirflowFailException, match="no interval to process: trigger it through the REST API with data_interval_start"):
        op.execute(_context(logical_date=None))


# -- summaries with real values, both engines ---------------------------------------------------
@pytest.fixture
def wh_conn(warehouse, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", warehouse.url)
    return warehouse


def test_migrate_summary(wh_conn):
    summary = MigrateWarehouseOperator(task_id="m", warehouse_conn_id="nps_wh_case").execute(_context())
    assert summary["schema_version"] == wh_conn.migrations()[-1][0] and summary["applied"] == []  # already migrated
    assert json.loads(json.dumps(summary)) == summary


def test_cohort_dispatch_dry_run_and_real_run(wh_conn, program_config, tmp_path, monkeypatch):
    from nps.demo.generator import generate, load_base

    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
    load_base(wh_conn, generate(program_config, n_accounts=150))
    interval = {"data_interval_start": "2026-10-05T06:00:00+00:00", "data_interval_end": "2026-10-06T06:00:00+00:00"}
    cohort = SelectCohortOperator(task_id="c", warehouse_conn_id="nps_wh_case", **interval).execute(_context())
    assert cohort["interval"] == {"start": "2026-10-05T06:00:00+00:00", "end": "2026-10-06T06:00:00+00:00",
                                  "source": "arguments"}
    stored = wh_conn.query("SELECT selected, due FROM ops.cohort_runs")[0]
    assert (cohort["selected"], cohort["due"]) == (stored["selected"], stored["due"]) and stored["selected"] > 0

    ctx = _context()
    dry = DispatchSurveysOperator(task_id="d", warehouse_conn_id="nps_wh_case", dry_run="True", **interval)
    with pytest.raises(AirflowSkipException, match="dry run"):
        dry.execute(ctx)
    preview = ctx["ti"].pushed["return_value"]
    by_template = {f"{r['survey_type']}.{r['locale']}": r["n"] for r in wh_conn.query(
        "SELECT survey_type, locale, COUNT(*) AS n FROM ops.cohort_candidates WHERE reason = 'selected' "
        "GROUP BY survey_type, locale")}
    assert preview["would_send"] == stored["selected"] and preview["by_template"] == dict(sorted(by_template.items()))
    assert wh_conn.scalar("SELECT COUNT(*) FROM ops.survey_invitations") == 0

    op = DispatchSurveysOperator(task_id="d", warehouse_conn_id="nps_wh_case", transport="outbox",
                                 outbox_dir=str(tmp_path / "outbox"), **interval)
    summary = op.execute(_context())
    assert (summary["sent"], summary["transport"], summary["statuses"]) == (
        stored["selected"], "outbox", {"sent": stored["selected"]})
    assert json.loads(json.dumps(summary)) == summary
    assert op.sent_emails_url == (tmp_path / "outbox" / "2026-10-05T0600").as_uri()
    assert len(list((tmp_path / "outbox" / "2026-10-05T0600").glob("*.eml"))) == stored["selected"]


def test_ingest_summaries(wh_conn, tmp_path, program_config):
    from nps.tokens import TokenSigner
    from tests.ingest.conftest import SECRET, insert_ledger, ledger_frame

    insert_ledger(wh_conn, ledger_frame())
    s = TokenSigner(SECRET)
    (tmp_path / "responses").mkdir()
    (tmp_path / "events").mkdir()
    (tmp_path / "responses" / "r.csv").write_text(
        "token,score,comment,responded_at,locale\r\n"
        f"{s.sign('S-NPS-1', 'nps', 9)},9,,2026-11-03T10:00:00Z,en\r\n"
        f"{s.sign('S-NPS-2', 'nps')},11,,2026-11-03T10:00:00Z,en\r\n")
    (tmp_path / "events" / "e.json").write_text(json.dumps(
        [{"email": "a@example.com", "timestamp": 1762160400, "event": "delivered", "sg_event_id": "e1", "send_key": "K-S-NPS-1"}]))
    common = {"warehouse_conn_id": "nps_wh_case", "landing_uri": str(tmp_path)}
    events = IngestEventsOperator(task_id="e", **common).execute(_context())
    responses = IngestResponsesOperator(task_id="r", **common).execute(_context())
    assert (events["rows_loaded"], events["rejected"], [f["path"] for f in events["files"]]) == (1, 0, ["events/e.json"])
    assert (responses["rows_read"], responses["rows_loaded"], responses["rows_quarantined"]) == (2, 1, 1)
    assert responses["files"][0]["status"] == "loaded"
    assert json.loads(json.dumps(responses)) == responses


def test_marts_steps_and_publish_off(wh_conn):
    from tests.marts.helpers import Data, nps_team

    d = Data()
    nps_team(d, "A1", [10, 10, 9, 9, 10, 8, 7, 8, 3, 6], datetime(2026, 10, 5, 10))
    d.load(wh_conn)
    common = {"warehouse_conn_id": "nps_wh_case"}
    built = BuildMartsOperator(task_id="b", steps=["build", "audit"], as_of="2026-12-01T05:30:00Z", **common).execute(_context())
    assert built["as_of"] == "2026-12-01T05:30:00" and built["built"]["fct_survey_responses"] == 10
    assert "unique_keys" in built["checks_passed"]
    ctx = _context()
    with pytest.raises(AirflowSkipException, match="publish is off"):
        BuildMartsOperator(task_id="p", steps=["publish"], publish="False", **common).execute(ctx)
    assert ctx["ti"].pushed["return_value"]["published"] is None
    published = BuildMartsOperator(task_id="p", steps=["publish"], **common).execute(_context())
    assert published["published"]["fct_survey_responses"] == 10
    assert built["build_mode"] == "full"  # the first build: nothing to start from
    # The next build is incremental; the templated full_rebuild (the DAG's Param) forces a full one.
    again = BuildMartsOperator(task_id="b", steps=["build"], as_of="2026-12-02T05:30:00Z", **common).execute(_context())
    assert again["build_mode"] == "incremental"
    forced = BuildMartsOperator(task_id="b", steps=["build"], as_of="2026-12-02T05:30:00Z", full_rebuild="True",
                                **common).execute(_context())
    assert (forced["build_mode"], forced["build_reason"]) == ("full", "a full rebuild was asked for (full_rebuild)")
    assert wh_conn.scalar("SELECT nps FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                          "AND period_start = DATE '2026-10-01'") == 30
    assert [o.name for o in BuildMartsOperator(task_id="x", steps=["publish"]).outlets] == ["nps_marts"]
    assert BuildMartsOperator(task_id="y", steps=["build"]).outlets == []
    with pytest.raises(ValueError, match="use one or more of build, audit, publish"):
        BuildMartsOperator(task_id="z", steps=["deploy"])


def test_sends_awaiting_evidence_reschedule_the_task_instead_of_failing_a_try(duckdb_url, monkeypatch, tmp_path):
    """nps.dispatch raises SendsPending when uncertain sends wait for webhook evidence (or another
    attempt holds the interval): the operator hands the task back to the scheduler for then, so
    the send completes without a person and without spending a retry."""
    from datetime import UTC, timedelta

    from airflow.sdk.exceptions import AirflowRescheduleException

    import nps.dispatch
    from nps.dispatch import SendsPending

    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_CASE", duckdb_url)
    monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))

    def pending(*args, **kwargs):
        raise SendsPending("12 invitations wait for evidence of batch b-1", retry_after=timedelta(minutes=7), waiting=12)

    monkeypatch.setattr(nps.dispatch, "dispatch_invitations", pending)
    op = DispatchSurveysOperator(task_id="d", warehouse_conn_id="nps_wh_case", transport="outbox",
                                 data_interval_start="2026-10-05T06:00:00+00:00",
                                 data_interval_end="2026-10-06T06:00:00+00:00")
    before = datetime.now(UTC)
    with pytest.raises(AirflowRescheduleException) as caught:
        op.execute(_context())
    when = caught.value.reschedule_date
    assert before + timedelta(minutes=7) <= when <= datetime.now(UTC) + timedelta(minutes=7)
