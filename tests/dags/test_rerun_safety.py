"""Rerun safety, proven DAG by DAG with dag.test() on a DuckDB warehouse and the outbox.

For the dispatch, ingestion and marts DAGs: run the intervals, then run each interval again (a
rerun, and a backfill over processed intervals), then clear each task alone and rerun it (every
other task of the run marked success, Airflow's ``mark_success_pattern``). After each step the
warehouse holds exactly what it held after the first pass: the same cohorts, the same ledger rows
(send keys and statuses), the same answers, quarantine and file audit, the same published marts,
and the outbox holds one file per invitation. The same answer file dropped again loads nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pendulum
import pytest

ROOT = Path(__file__).resolve().parents[2]
DAYS = [pendulum.datetime(2026, 10, d, 6, tz="UTC") for d in (5, 6)]
SENT = "2026-10-07T06:05:00"      # the pipeline clock while dispatching (every invitation sent then)
ANSWER_DAYS = [pendulum.date(2026, 10, d) for d in (7, 8, 9)]
INGESTED = "2026-10-10T05:00:00"  # and while ingesting, after the answers
INGEST = pendulum.datetime(2026, 10, 10, 5, tz="UTC")
MARTS = pendulum.datetime(2026, 10, 10, 5, 30, tz="UTC")
SECRET = "rerun-safety-secret-0123456789abcdef"

SNAPSHOT = {
    "cohorts": "SELECT interval_start, interval_end, selected, due FROM ops.cohort_runs ORDER BY 1",
    "candidates": "SELECT COUNT(*), COUNT(DISTINCT survey_id) FROM ops.cohort_candidates",
    "ledger": "SELECT send_key, survey_id, status FROM ops.survey_invitations ORDER BY send_key",
    "answers": "SELECT response_id, survey_id, score FROM ops.raw_responses ORDER BY response_id",
    "quarantine": "SELECT path, line_number, category FROM ops.quarantine ORDER BY 1, 2",
    "files": "SELECT path, rows_read, rows_loaded, rows_quarantined, rows_duplicate FROM ops.ingest_files ORDER BY 1",
    "events": "SELECT COUNT(*) FROM ops.email_events",
    "suppressions": "SELECT COUNT(*) FROM ops.suppressions",
    "fct": "SELECT COUNT(*), SUM(score) FROM marts.fct_survey_responses",
    "mart_nps": "SELECT * FROM marts.mart_nps",
    "mart_response_rates": "SELECT COUNT(*) FROM marts.mart_response_rates",
}


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags")).dags


def _state(dr) -> str:
    return str(dr.state).rsplit(".", 1)[-1].lower()


@pytest.fixture
def program(airflow_db, tmp_path, monkeypatch, program_config):
    from nps.demo.generator import generate, load_base
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    for k, v in {"AIRFLOW_CONN_NPS_WAREHOUSE": url, "NPS_OUTBOX_DIR": str(tmp_path / "outbox"),
                 "NPS_EMAIL_TRANSPORT": "outbox", "NPS_LANDING_URI": str(tmp_path / "landing"),
                 "NPS_TOKEN_SECRET": SECRET, "NPS_FAKE_NOW": SENT}.items():
        monkeypatch.setenv(k, v)
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=120))
    yield wh, tmp_path
    wh.dispose()


def snapshot(wh, outbox: Path) -> dict:
    out = {k: sorted((tuple(r.values()) for r in wh.query(sql)), key=repr) for k, sql in SNAPSHOT.items()}
    out["outbox_files"] = sorted(p.name for p in outbox.rglob("*.eml")) if outbox.exists() else []
    return out


@pytest.mark.timeout(900)
def test_every_task_of_every_dag_reruns_to_the_same_state(program, monkeypatch):
    from nps.demo.respondents import simulate_day

    wh, tmp = program
    outbox, landing = tmp / "outbox", tmp / "landing"
    dags = _dags()

    def run(dag_id: str, logical, only: str | None = None) -> None:
        # only=<task>: the run as the on-call engineer leaves it after clearing that one task.
        # dag.test() fullmatches the pattern against each task id: every task but `only`.
        pattern = f"(?!{only}$).*" if only else None
        dr = dags[dag_id].test(logical_date=logical, mark_success_pattern=pattern)
        assert _state(dr) == "success", (dag_id, logical, only)

    # -- dispatch: three intervals, then again (rerun, backfill), then each task alone -----------
    for day in DAYS:
        run("nps_dispatch_surveys", day)
    first = snapshot(wh, outbox)
    sent = len(first["ledger"])
    assert len(first["cohorts"]) == len(DAYS) and sent > 0 and {s for *_, s in first["ledger"]} == {"sent"}
    assert len(first["outbox_files"]) == sent  # one email per intended recipient
    for day in DAYS:
        run("nps_dispatch_surveys", day)
    assert snapshot(wh, outbox) == first
    for task in dags["nps_dispatch_surveys"].task_ids:
        run("nps_dispatch_surveys", DAYS[1], only=task)
        assert snapshot(wh, outbox) == first, task

    # -- ingestion: the respondents' answers and email events, loaded once --------------------
    for day in ANSWER_DAYS:
        simulate_day(wh, str(landing), day, SECRET)
    monkeypatch.setenv("NPS_FAKE_NOW", INGESTED)
    files = sorted(p.relative_to(landing) for p in landing.rglob("*") if p.is_file())
    assert files, "the simulated respondents wrote nothing"
    run("nps_ingest_responses", INGEST)
    loaded = snapshot(wh, outbox)
    assert len(loaded["answers"]) > 0 and loaded["events"][0][0] > 0
    run("nps_ingest_responses", INGEST)
    for task in dags["nps_ingest_responses"].task_ids:
        run("nps_ingest_responses", INGEST, only=task)
        assert snapshot(wh, outbox) == loaded, task
    # The same files dropped into the landing area again: recognised, nothing loaded twice.
    archived = [p for p in landing.rglob("*") if p.is_file() and "archive" in p.parts]
    assert archived
    for p in archived:
        kind = "events" if "events" in p.parts else "responses"
        shutil.copy(p, landing / kind / f"again_{p.name}")
    run("nps_ingest_responses", INGEST)
    again = snapshot(wh, outbox)
    assert {k: v for k, v in again.items() if k != "files"} == {k: v for k, v in loaded.items() if k != "files"}

    # -- marts: built once, rebuilt, each task alone: the same published marts -----------------
    run("nps_build_marts", MARTS)
    built = snapshot(wh, outbox)
    assert built["fct"][0][0] == len(loaded["answers"]) and built["mart_nps"]
    run("nps_build_marts", MARTS)
    for task in dags["nps_build_marts"].task_ids:
        run("nps_build_marts", MARTS, only=task)
        assert snapshot(wh, outbox) == built, task
    # A dispatch interval once more, after everything: still nobody emailed twice.
    run("nps_dispatch_surveys", DAYS[0])
    assert snapshot(wh, outbox) == built
