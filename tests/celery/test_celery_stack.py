"""The program on Airflow's CeleryExecutor, proven on this machine with real clients.

``scripts/celery.sh up`` (``make celery-up``) starts the api-server, scheduler, dag-processor,
triggerer and two Celery workers as separate processes: metadata and warehouse on the local
PostgreSQL, Redis as the broker, fail closed (``NPS_EMBEDDED=0``), and the invitations sent for
real: the ``nps_sendgrid`` connection points at the strict fake SendGrid server the test starts
(tests/support/sendgrid_server.py), which must count every invitation exactly once while no
outbox exists on the workers. Through the official
``apache-airflow-client`` the test drives a simulated week (a dispatch run per day, the week's
answers, an ingestion run, a marts build), then checks the warehouse against the same week run
embedded (``dag.test()`` on a DuckDB file, same customer base, same answers): cohorts,
invitations, answers loaded and quarantined, marts. Task instances must have run on both workers
(their hostnames), a task log of each worker must be readable through the API server and in the
UI (headless Chromium: every program DAG listed, screenshots in ``test-artifacts/celery/``), and
the program's pools must hold the writers. ``scripts/celery.sh down`` must leave no process behind.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.celery.stack import CeleryStack
from tests.support.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = ("nps_dispatch_surveys", "nps_ingest_responses", "nps_build_marts")
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
WEEK = [(TODAY - timedelta(days=8 - i)).date() for i in range(7)]  # a week that ended two days ago
N_ACCOUNTS = 60
SECRET = "celery-test-secret-0123456789abcdef"

COUNTS = {
    "cohort_runs": "SELECT COUNT(*) FROM ops.cohort_runs",
    "selected": "SELECT SUM(selected) FROM ops.cohort_runs",
    "invitations_sent": "SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'",
    "invitations": "SELECT COUNT(*) FROM ops.survey_invitations",
    "answers_loaded": "SELECT COUNT(*) FROM ops.raw_responses",
    "answers_quarantined": "SELECT COUNT(*) FROM ops.quarantine",
    "fct_survey_responses": "SELECT COUNT(*) FROM marts.fct_survey_responses",
    "mart_nps_rows": "SELECT COUNT(*) FROM marts.mart_nps",
    "published_builds": "SELECT COUNT(DISTINCT build_schema) FROM ops.mart_builds WHERE status = 'published'",
}


def _base(program_config):
    from nps.demo.generator import generate

    return generate(program_config, n_accounts=N_ACCOUNTS, start=WEEK[0] - timedelta(days=14), end=WEEK[-1] + timedelta(days=3))


def _load_base(url: str, program_config) -> None:
    from nps.demo.generator import load_base
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, _base(program_config))
    wh.dispose()


def write_answers(url: str, landing: Path) -> int:
    """One answer for every third sent invitation (chosen by its survey id, so both runs choose
    the same), a second after it was sent, plus one row whose score is out of range; returns rows."""
    from nps.config import SCORE_RANGES
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    signer = TokenSigner(SECRET)
    wh = Warehouse(url)
    invitations = wh.query("SELECT survey_id, survey_type, locale, sent_at FROM ops.survey_invitations "
                           "WHERE status = 'sent' ORDER BY survey_id")
    wh.dispose()
    rows = ["token,score,comment,responded_at,locale"]
    for inv in invitations:
        h = int(hashlib.sha256(inv["survey_id"].encode()).hexdigest(), 16)
        if h % 3 or inv["survey_type"] not in SCORE_RANGES:
            continue
        lo, hi = SCORE_RANGES[inv["survey_type"]]
        score = lo + h % (hi - lo + 1)
        when = (inv["sent_at"] + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{signer.sign(inv['survey_id'], inv['survey_type'], score)},{score},,{when},{inv['locale']}")
    first = invitations[0]
    lo, hi = SCORE_RANGES[first["survey_type"]]
    rows.append(f"{signer.sign(first['survey_id'], first['survey_type'])},{hi + 1},,"
                f"{(first['sent_at'] + timedelta(seconds=1)).strftime('%Y-%m-%dT%H:%M:%SZ')},{first['locale']}")
    (landing / "responses").mkdir(parents=True, exist_ok=True)
    (landing / "responses" / "week.csv").write_text("\r\n".join(rows) + "\r\n", encoding="utf-8")
    return len(rows) - 1


def counts(url: str) -> dict[str, int]:
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    try:
        return {k: int(wh.scalar(sql) or 0) for k, sql in COUNTS.items()}
    finally:
        wh.dispose()


# -- the Celery stack -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory, program_config):
    import json

    with FakeSendGrid() as sg:
        # The real transport on the workers: no NPS_EMAIL_TRANSPORT, so celery.sh declares no outbox.
        sendgrid = json.dumps({"conn_type": "generic", "password": DEFAULT_API_KEY, "extra": {"host": sg.url, "timeout": 10}})
        stack = CeleryStack(tmp_path_factory.mktemp("celery") / "airflow",
                            extra_env={"NPS_TOKEN_SECRET": SECRET, "AIRFLOW_CONN_NPS_SENDGRID": sendgrid})
        stack.sendgrid = sg
        t0 = time.monotonic()
        stack.create_warehouse = lambda _orig=stack.create_warehouse: (_orig(), _load_base(stack.warehouse_url, program_config))
        try:
            stack.start()
            stack.started_in = time.monotonic() - t0
            wait_for_dags(stack)
            yield stack
        finally:
            stack.left_behind = stack.stop()


def wait_for_dags(stack: CeleryStack, timeout: float = 240) -> None:
    from airflow_client.client import DAGApi, DAGPatchBody

    deadline = time.monotonic() + timeout
    seen: set[str] = set()
    with stack.client() as api:
        while time.monotonic() < deadline:
            seen = {d.dag_id for d in DAGApi(api).get_dags(limit=100).dags}
            if set(PROGRAM) <= seen:
                for dag_id in PROGRAM:
                    DAGApi(api).patch_dag(dag_id, DAGPatchBody(is_paused=False))
                return
            time.sleep(3)
    raise AssertionError(f"DAGs not parsed within {timeout:.0f} s: have {sorted(seen)}\n{stack.tail()}")


def trigger_and_wait(stack: CeleryStack, dag_id: str, logical: datetime | None, timeout: float = 300) -> str:
    from airflow_client.client import DagRunApi, TriggerDAGRunPostBody

    with stack.client() as api:
        run_id = DagRunApi(api).trigger_dag_run(
            dag_id, TriggerDAGRunPostBody(logical_date=logical.replace(tzinfo=UTC) if logical else None, conf={})).dag_run_id
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = DagRunApi(api).get_dag_run(dag_id, run_id)
            state = str(run.state.value if hasattr(run.state, "value") else run.state)
            if state in ("success", "failed"):
                assert state == "success", (dag_id, run_id, task_instances(stack, dag_id, run_id), stack.tail())
                return run_id
            time.sleep(2)
    raise AssertionError(f"{dag_id} {run_id} did not finish within {timeout:.0f} s\n{stack.tail()}")


def wait_until_idle(stack: CeleryStack, timeout: float = 300) -> None:
    """Every run of the program finished (asset-triggered ones too)."""
    from airflow_client.client import DagRunApi

    deadline = time.monotonic() + timeout
    with stack.client() as api:
        while time.monotonic() < deadline:
            runs = [r for d in PROGRAM for r in DagRunApi(api).get_dag_runs(d, limit=100).dag_runs]
            if all(str(r.state.value if hasattr(r.state, "value") else r.state) in ("success", "failed") for r in runs):
                return
            time.sleep(2)
    raise AssertionError(f"runs still active after {timeout:.0f} s\n{stack.tail()}")


def task_instances(stack: CeleryStack, dag_id: str = "~", run_id: str = "~") -> list:
    from airflow_client.client import TaskInstanceApi

    with stack.client() as api:
        return TaskInstanceApi(api).get_task_instances(dag_id, run_id, limit=1000).task_instances


def embedded_week(tmp_path: Path, program_config, monkeypatch) -> dict[str, int]:
    """The same week on the embedded project: dag.test() on a DuckDB file, the outbox."""
    import pendulum
    from airflow.dag_processing.dagbag import DagBag

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    landing = tmp_path / "landing"
    for k, v in {"NPS_EMBEDDED": "1", "AIRFLOW_CONN_NPS_WAREHOUSE": url, "NPS_EMAIL_TRANSPORT": "outbox",
                 "NPS_OUTBOX_DIR": str(tmp_path / "outbox"), "NPS_LANDING_URI": str(landing),
                 "NPS_TOKEN_SECRET": SECRET}.items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("NPS_FAKE_NOW", raising=False)
    _load_base(url, program_config)
    dags = DagBag(dag_folder=str(ROOT / "dags")).dags

    def run(dag_id: str, logical: datetime | None) -> None:
        dr = dags[dag_id].test(logical_date=pendulum.instance(logical, tz="UTC") if logical else None)
        assert "success" in str(dr.state).lower(), (dag_id, logical)

    for day in WEEK:
        run("nps_dispatch_surveys", datetime(day.year, day.month, day.day, 6, 0))
    write_answers(url, landing)
    run("nps_ingest_responses", datetime.combine(WEEK[-1], datetime.min.time()).replace(hour=23))
    run("nps_build_marts", None)  # as of now: the answers came in today
    return counts(url)


def test_a_week_on_celery_matches_the_embedded_run(celery_stack, airflow_db, tmp_path, program_config, monkeypatch):
    t0 = time.monotonic()
    stack = celery_stack
    for day in WEEK:
        trigger_and_wait(stack, "nps_dispatch_surveys", datetime(day.year, day.month, day.day, 6, 0))
    answers = write_answers(stack.warehouse_url, stack.home / "landing")
    trigger_and_wait(stack, "nps_ingest_responses", None)
    trigger_and_wait(stack, "nps_build_marts", None)  # as of now: the answers came in today
    wait_until_idle(stack)
    on_celery = counts(stack.warehouse_url)
    celery_seconds = time.monotonic() - t0

    embedded = embedded_week(tmp_path, program_config, monkeypatch)
    print(f"celery stack: started in {stack.started_in:.0f} s, the week ran in {celery_seconds:.0f} s; {on_celery}")
    assert on_celery == embedded
    # Real work, not an empty week: every day a cohort, invitations sent, answers loaded, one quarantined.
    assert on_celery["cohort_runs"] == 7 and on_celery["invitations_sent"] == on_celery["selected"] > 0
    assert (on_celery["answers_loaded"], on_celery["answers_quarantined"]) == (answers - 1, 1)
    assert on_celery["fct_survey_responses"] == answers - 1 and on_celery["published_builds"] >= 1
    # Sent for real from the workers: each invitation's send key exactly once at the SendGrid server,
    # every ledger row carries the server's message id, and no worker wrote an outbox.
    keys = [a["send_key"] for a in stack.sendgrid.accepted_custom_args()]
    assert len(keys) == len(set(keys)) == on_celery["invitations_sent"]
    assert len(stack.sendgrid.accepted) == len(stack.sendgrid.requests)
    from nps.warehouse import Warehouse

    wh = Warehouse(stack.warehouse_url)
    try:
        assert {r["send_key"] for r in wh.query("SELECT send_key FROM ops.survey_invitations WHERE status = 'sent'")} == set(keys)
        ids = {r["m"] for r in wh.query("SELECT DISTINCT provider_message_id AS m FROM ops.survey_invitations WHERE status = 'sent'")}
        assert ids == set(stack.sendgrid.message_ids)
    finally:
        wh.dispose()
    assert not (stack.home / "outbox").exists()


def test_task_instances_ran_on_both_workers_in_the_program_pools(celery_stack):
    tis = [ti for ti in task_instances(celery_stack) if ti.dag_id in PROGRAM]
    assert tis, "run test_a_week_on_celery_matches_the_embedded_run first (same module)"
    assert all(str(ti.state.value if hasattr(ti.state, "value") else ti.state) in ("success", "skipped") for ti in tis)
    by_host: dict[str, list] = {}
    for ti in tis:
        by_host.setdefault(ti.hostname, []).append(ti)
    assert {"nps-worker-1", "nps-worker-2"} <= set(by_host), {h: len(v) for h, v in by_host.items()}
    pools = {(ti.dag_id, ti.pool) for ti in tis}
    assert pools == {("nps_dispatch_surveys", "nps_warehouse"), ("nps_ingest_responses", "nps_warehouse"),
                     ("nps_build_marts", "nps_marts")}
    # The marts build never overlapped another marts task (one slot): intervals are disjoint.
    marts = sorted((ti.start_date, ti.end_date) for ti in tis if ti.pool == "nps_marts" and ti.start_date)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(marts, marts[1:], strict=False))


def test_a_task_log_of_each_worker_is_readable_through_the_api_server(celery_stack):
    from airflow_client.client import TaskInstanceApi

    tis = [ti for ti in task_instances(celery_stack, "nps_dispatch_surveys") if ti.task_id == "migrate_warehouse"]
    tis += [ti for ti in task_instances(celery_stack) if ti.dag_id in PROGRAM and ti.task_id == "migrate_warehouse"]
    seen: dict[str, str] = {}
    with celery_stack.client() as api:
        for ti in tis:
            if ti.hostname in seen:
                continue
            content = TaskInstanceApi(api).get_log(ti.dag_id, ti.dag_run_id, ti.task_id, ti.try_number, full_content=True).content
            parts = content.actual_instance if hasattr(content, "actual_instance") else content
            text = "\n".join(getattr(p, "event", None) or str(p) for p in parts) if isinstance(parts, list) else str(parts)
            seen[ti.hostname] = text
    assert {"nps-worker-1", "nps-worker-2"} <= set(seen), sorted(seen)
    for host in ("nps-worker-1", "nps-worker-2"):
        assert "warehouse Warehouse(postgresql+psycopg://" in seen[host] and "at schema version" in seen[host], seen[host][-2000:]


def test_the_ui_in_chromium_lists_every_dag_and_shows_a_log_of_each_worker(celery_stack):
    """Headless Chromium (Debian's) against the Celery deployment; screenshots in test-artifacts/celery/."""
    import json
    from urllib.parse import quote

    from playwright.sync_api import sync_playwright

    from tests.ui.stack import PROGRAM_DAGS
    from tests.ui.test_airflow_ui import CHROMIUM, CHROMIUM_ARGS

    assert CHROMIUM.exists(), "Debian's chromium is missing: run scripts/install-browser.sh"
    artifacts = ROOT / "test-artifacts" / "celery"
    artifacts.mkdir(parents=True, exist_ok=True)
    password = json.loads((celery_stack.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
    one_per_worker = {}
    for ti in task_instances(celery_stack, "nps_dispatch_surveys"):
        if ti.task_id == "migrate_warehouse":
            one_per_worker.setdefault(ti.hostname, ti)
    assert {"nps-worker-1", "nps-worker-2"} <= set(one_per_worker), sorted(one_per_worker)
    base = celery_stack.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill(password)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(base + "/", timeout=60_000)
            page.goto(base + "/dags")
            for dag_id in PROGRAM_DAGS:
                page.get_by_role("link", name=dag_id, exact=True).wait_for(timeout=60_000)
            page.screenshot(path=str(artifacts / "1-dag-list.png"), full_page=True)
            for host in ("nps-worker-1", "nps-worker-2"):
                ti = one_per_worker[host]
                page.goto(f"{base}/dags/{ti.dag_id}/runs/{quote(ti.dag_run_id)}/tasks/{ti.task_id}")
                page.get_by_text("schema version", exact=False).first.wait_for(timeout=60_000)
                page.screenshot(path=str(artifacts / f"2-task-log-{host}.png"), full_page=True)
        finally:
            browser.close()


def test_celery_down_stops_every_process(celery_stack):
    """Last in the module: stop the stack here and check nothing outlived it."""
    left = celery_stack.stop()
    celery_stack.stop = lambda: []  # the fixture's teardown has nothing more to do
    assert left == []
    assert not any(p.exists() for p in (celery_stack.home / "run").glob("*.pid"))
