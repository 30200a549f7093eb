"""The data engineer's path through Airflow, with real clients against a running Airflow.

One Airflow (``scripts/airflow-ui.sh``, what ``make ui`` runs) is started for this file with an
embedded DuckDB warehouse holding a small generated customer base. Through the official
``apache-airflow-client``: no import errors, every program DAG listed and documented, each DAG
triggered with and without a logical date, a failed task cleared and succeeding on rerun. Through
headless Chromium (Debian's package, driven by Playwright): log in, the DAG list, a DAG run's
graph, a task log; screenshots are kept in ``test-artifacts/ui/``. Last, Ctrl-C (SIGINT to the
process group) must stop every process the UI started.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.ui.stack import PROGRAM_DAGS, ROOT, AirflowStack

ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
# A dispatch run with this logical date covers the 24 hours before it (Airflow's manual-run rule
# for data-interval timetables): the same interval a scheduled run of that day covers.
DISPATCH_LOGICAL = TODAY - timedelta(days=6) + timedelta(hours=6)


@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory, program_config):
    from nps.demo.generator import generate, load_base
    from nps.warehouse import Warehouse

    home = tmp_path_factory.mktemp("airflow-ui")
    warehouse_url = f"duckdb:///{home / 'warehouse.duckdb'}"
    wh = Warehouse(warehouse_url)
    wh.migrate()
    base = generate(program_config, n_accounts=60, start=(TODAY - timedelta(days=20)).date(), end=(TODAY + timedelta(days=3)).date())
    load_base(wh, base)
    wh.dispose()

    stack = AirflowStack(
        home / "airflow",
        extra_env={
            "NPS_DATA_DIR": str(home / "data"),
            "NPS_OUTBOX_DIR": str(home / "outbox"),
            "NPS_LANDING_URI": str(home / "landing"),
            "NPS_TOKEN_SECRET": "ui-test-secret-0123456789abcdef",
        },
        keep_log_as=ARTIFACTS / "standalone.log",
    )
    stack.warehouse_url = warehouse_url
    stack.start()
    try:
        from airflow_client.client import ConnectionApi, ConnectionBody

        with stack.client() as api:  # the project's own connection type ("NPS warehouse" in the UI)
            ConnectionApi(api).post_connection(
                ConnectionBody(
                    connection_id="nps_warehouse",
                    conn_type="nps_warehouse",
                    extra=json.dumps({"engine": "duckdb", "duckdb_path": str(home / "warehouse.duckdb")}),
                    description="UI test warehouse (DuckDB file)",
                )
            )
        wait_for_dags(stack)
        yield stack
    finally:
        stack.stop()


def wait_for_dags(stack: AirflowStack, timeout: float = 240) -> None:
    from airflow_client.client import DAGApi, DAGPatchBody

    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    with stack.client() as api:
        while time.monotonic() < deadline:
            seen = {d.dag_id for d in DAGApi(api).get_dags(limit=100).dags}
            if set(PROGRAM_DAGS) <= seen:
                for dag_id in PROGRAM_DAGS:
                    DAGApi(api).patch_dag(dag_id, DAGPatchBody(is_paused=False))
                return
            time.sleep(3)
    raise AssertionError(f"DAGs not parsed within {timeout:.0f} s: have {sorted(seen)}, want {PROGRAM_DAGS}\n{stack.tail()}")


def trigger(stack: AirflowStack, dag_id: str, logical_date: datetime | None, conf: dict | None = None) -> str:
    from airflow_client.client import DagRunApi, TriggerDAGRunPostBody

    with stack.client() as api:
        run = DagRunApi(api).trigger_dag_run(dag_id, TriggerDAGRunPostBody(logical_date=logical_date, conf=conf or {}))
    return run.dag_run_id


def wait_for_run(stack: AirflowStack, dag_id: str, run_id: str, timeout: float = 600):
    from airflow_client.client import DagRunApi

    deadline = time.monotonic() + timeout
    with stack.client() as api:
        while time.monotonic() < deadline:
            run = DagRunApi(api).get_dag_run(dag_id, run_id)
            if str(run.state.value if hasattr(run.state, "value") else run.state) in ("success", "failed"):
                return run
            time.sleep(2)
    raise AssertionError(f"{dag_id} {run_id} did not finish within {timeout:.0f} s\n{stack.tail()}")


def task_states(stack: AirflowStack, dag_id: str, run_id: str) -> dict[str, tuple[str, int]]:
    from airflow_client.client import TaskInstanceApi

    with stack.client() as api:
        tis = TaskInstanceApi(api).get_task_instances(dag_id, run_id).task_instances
    return {ti.task_id: (str(ti.state.value if ti.state else None), ti.try_number) for ti in tis}


def task_log(stack: AirflowStack, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    from airflow_client.client import TaskInstanceApi

    with stack.client() as api:
        content = TaskInstanceApi(api).get_log(dag_id, run_id, task_id, try_number, full_content=True).content
    parts = content.actual_instance if hasattr(content, "actual_instance") else content
    if isinstance(parts, list):
        return "\n".join(getattr(p, "event", None) or str(p) for p in parts)
    return str(parts)


def _state(run) -> str:
    return str(run.state.value if hasattr(run.state, "value") else run.state)


# -- REST: the API as a data engineer's scripts use it ---------------------------------------------


def test_no_import_errors(airflow_ui):
    from airflow_client.client import ImportErrorApi

    with airflow_ui.client() as api:
        errors = ImportErrorApi(api).get_import_errors()
    assert errors.total_entries == 0, [e.stack_trace for e in errors.import_errors]


def test_every_program_dag_is_listed_with_docs_owner_and_tags(airflow_ui):
    from airflow_client.client import DAGApi

    with airflow_ui.client() as api:
        dags = {d.dag_id: d for d in DAGApi(api).get_dags(limit=100).dags}
        assert sorted(d for d in dags if d.startswith("nps_")) == PROGRAM_DAGS
        for dag_id in PROGRAM_DAGS:
            details = DAGApi(api).get_dag_details(dag_id)
            assert details.doc_md and dag_id.removesuffix("_weekly").removesuffix("_monthly").removesuffix("_quarterly") in details.doc_md, dag_id
            assert "cx-data" in details.owners and details.tags, dag_id
            assert details.is_paused is False


@pytest.mark.parametrize("dag_id", PROGRAM_DAGS)
def test_trigger_with_a_logical_date_runs_that_interval(airflow_ui, dag_id):
    logical = DISPATCH_LOGICAL
    run_id = trigger(airflow_ui, dag_id, logical)
    run = wait_for_run(airflow_ui, dag_id, run_id)
    assert _state(run) == "success", (task_states(airflow_ui, dag_id, run_id), airflow_ui.tail())
    assert run.logical_date == logical
    assert run.run_type.value == "manual"
    if dag_id == "nps_dispatch_surveys":
        assert (run.data_interval_start, run.data_interval_end) == (logical - timedelta(days=1), logical)
        assert cohort_interval_recorded(airflow_ui, run.data_interval_start, run.data_interval_end)


@pytest.mark.parametrize("dag_id", PROGRAM_DAGS)
def test_trigger_without_a_logical_date_never_retries(airflow_ui, dag_id):
    """Airflow 3's default manual run: no logical date. Either the latest complete interval is
    processed, or the run fails at once (no retry) saying which logical date to choose."""
    run_id = trigger(airflow_ui, dag_id, None)
    run = wait_for_run(airflow_ui, dag_id, run_id)
    states = task_states(airflow_ui, dag_id, run_id)
    assert all(try_number <= 1 for _, try_number in states.values()), states
    assert _state(run) == "success", (states, airflow_ui.tail())
    if dag_id == "nps_dispatch_surveys":
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        end = end.replace(hour=6) if end.hour >= 6 else (end - timedelta(days=1)).replace(hour=6)
        log = task_log(airflow_ui, dag_id, run_id, "select_cohort")
        assert cohort_interval_recorded(airflow_ui, end - timedelta(days=1), end), log


def cohort_interval_recorded(stack: AirflowStack, start: datetime, end: datetime) -> bool:
    import duckdb

    con = duckdb.connect(stack.warehouse_url.removeprefix("duckdb:///"), read_only=True)
    try:
        n = con.execute(
            "SELECT COUNT(*) FROM ops.cohort_runs WHERE interval_start = ? AND interval_end = ?",
            [start.replace(tzinfo=None), end.replace(tzinfo=None)],
        ).fetchone()[0]
    finally:
        con.close()
    return n == 1


def test_a_failed_task_is_cleared_through_the_api_and_succeeds_on_rerun(airflow_ui):
    """The on-call path: a run fails (here the warehouse connection points nowhere), the engineer
    fixes the connection and clears the failed task; the rerun succeeds."""
    from airflow_client.client import ClearTaskInstancesBody, ConnectionApi, ConnectionBody, TaskInstanceApi

    dag_id = "nps_build_marts"
    good = {"engine": "duckdb", "duckdb_path": airflow_ui.warehouse_url.removeprefix("duckdb:///")}
    broken = {"sqlalchemy_url": "postgresql://nps@127.0.0.1:1/nps"}  # nothing listens on port 1

    def point_warehouse_at(extra: dict) -> None:
        with airflow_ui.client() as api:
            ConnectionApi(api).patch_connection(
                "nps_warehouse",
                ConnectionBody(connection_id="nps_warehouse", conn_type="nps_warehouse", extra=json.dumps(extra)),
            )

    point_warehouse_at(broken)
    try:
        run_id = trigger(airflow_ui, dag_id, TODAY - timedelta(days=2))
        run = wait_for_run(airflow_ui, dag_id, run_id)
    finally:
        point_warehouse_at(good)
    states = task_states(airflow_ui, dag_id, run_id)
    assert _state(run) == "failed", states
    assert states["migrate_warehouse"] == ("failed", 1), states  # failed at once: no retry can fix a bad URL
    assert {s for t, (s, _) in states.items() if t != "migrate_warehouse"} == {"upstream_failed"}, states

    with airflow_ui.client() as api:
        cleared = TaskInstanceApi(api).post_clear_task_instances(
            dag_id, ClearTaskInstancesBody(dry_run=False, only_failed=True, dag_run_id=run_id, include_downstream=True)
        )
    assert {ti.task_id for ti in cleared.task_instances} == set(states)
    run = wait_for_run(airflow_ui, dag_id, run_id)
    assert _state(run) == "success", task_states(airflow_ui, dag_id, run_id)


# -- Chromium: what the data engineer sees ----------------------------------------------------------


def test_the_ui_in_chromium_login_dag_list_graph_and_task_log(airflow_ui):
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/install-browser.sh"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    run_id = trigger(airflow_ui, "nps_dispatch_surveys", DISPATCH_LOGICAL + timedelta(days=1))
    assert _state(wait_for_run(airflow_ui, "nps_dispatch_surveys", run_id)) == "success"
    base = airflow_ui.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(airflow_ui.password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/", timeout=60_000)

            page.goto(base + "/dags")
            for dag_id in PROGRAM_DAGS:
                page.get_by_role("link", name=dag_id, exact=True).wait_for(timeout=60_000)
            page.get_by_text(f"{len(PROGRAM_DAGS)} Dags").wait_for()
            page.screenshot(path=str(ARTIFACTS / "1-dag-list.png"), full_page=True)

            run_url = f"{base}/dags/nps_dispatch_surveys/runs/{quote(run_id)}"
            page.goto(run_url)
            for task_id in ("migrate_warehouse", "select_cohort", "send_invitations"):
                page.get_by_text(task_id, exact=True).first.wait_for(timeout=60_000)
            page.get_by_text("Success").first.wait_for()
            page.screenshot(path=str(ARTIFACTS / "2-dag-run.png"), full_page=True)
            page.get_by_role("button", name="Show Graph (Press g)").click()
            page.locator(".react-flow__node").first.wait_for(timeout=60_000)  # the graph's task nodes
            assert page.locator(".react-flow__node").count() >= 3
            page.screenshot(path=str(ARTIFACTS / "2-dag-graph.png"), full_page=True)

            page.goto(run_url + "/tasks/migrate_warehouse")
            page.get_by_text("schema version", exact=False).first.wait_for(timeout=60_000)
            page.screenshot(path=str(ARTIFACTS / "3-task-log.png"), full_page=True)

            # The project's connection types in Admin -> Connections -> Add, with their own fields.
            page.goto(base + "/connections")
            page.get_by_role("button", name="Add Connection").click()
            page.get_by_text("Select Connection Type").wait_for(timeout=30_000)
            try:
                # The type picker (react-select): its value container takes the click, then the option.
                page.locator("div[data-value]").first.click()
                page.get_by_role("option", name="NPS warehouse", exact=True).click(timeout=30_000)
            except Exception:
                (ARTIFACTS / "4-connection-form.html").write_text(page.content(), encoding="utf-8")
                raise
            page.get_by_text("Extra Fields", exact=True).first.wait_for(timeout=30_000)
            if not page.get_by_text("DuckDB file", exact=True).first.is_visible():
                page.get_by_text("Extra Fields", exact=True).first.click()  # an accordion, closed by default
            for label in ("Engine", "DuckDB file"):
                page.get_by_text(label, exact=True).first.wait_for(timeout=30_000)
            for label in ("SQLAlchemy URL", "Database"):  # in the form, maybe scrolled out of its panel
                page.get_by_text(label, exact=True).first.wait_for(state="attached", timeout=30_000)
            page.screenshot(path=str(ARTIFACTS / "4-connection-form.png"), full_page=True)
        finally:
            browser.close()


# -- Ctrl-C -----------------------------------------------------------------------------------------


def test_ctrl_c_stops_every_component(airflow_ui):
    left = airflow_ui.stop()
    assert left == [], f"still running after Ctrl-C: {left}"
