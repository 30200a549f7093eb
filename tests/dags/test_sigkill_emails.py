"""A worker SIGKILLed in the middle of every email-sending task, on both engines, then a rerun: every
intended recipient exactly once at the SendGrid-compatible server.

Each task runs as Airflow runs it (``dag.test`` of its DAG, the task's upstream already done) in a
separate Python process whose SendGrid client kills the process (``SIGKILL``: no handler, no
cleanup, an OOM kill or a lost node) right after the server accepted a request and before the
ledger recorded it. SendGrid's Event Webhook then reports what it accepted (ingested by the real
``ingest_events``), and the task is cleared and rerun: the killed request is confirmed from that
evidence, the keys never sent go out, and the server counts each intended recipient once.

Covered: ``nps_close_the_loop`` (send_followups, alert_owners, escalate_cases, send_digest) and
``nps_kpi_reports_monthly`` (send_reports). Invitations: tests/dispatch/test_dispatch.py; the
ledger's own failure paths: tests/ledger/test_ledger.py; ingestion and marts: tests/test_sigkill.py.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import datetime
from pathlib import Path

import pendulum
import pytest
import yaml

from tests.cohorts.helpers import account, contact
from tests.dags.test_rerun_safety_emails import ANSWERED, addressed, received
from tests.followups.helpers import answer, answers, seed
from tests.support.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
FRI = datetime(2026, 10, 9, 12, 10)   # 14:10 in Warsaw: answers settled, after the digest hour
TUE = datetime(2026, 10, 13, 12, 10)  # both cases overdue: level 1 due (level 2 only a day later)
BEFORE = {  # the upstream tasks run for real before the killed one (a regex of task ids)
    "send_followups": "migrate_warehouse|apply_case_files|decide_followups",
    "alert_owners": "migrate_warehouse|apply_case_files|decide_followups",
    "escalate_cases": "migrate_warehouse|apply_case_files|decide_followups",
    "send_digest": "migrate_warehouse",
}
KILLED = """
import os, signal, sys
sys.path[:0] = [{root!r}, {plugins!r}]
import pendulum
from nps.email import sendgrid
real, accepted = sendgrid.SendGridHook.send, []
def then_die(self, batch):
    message_id = real(self, batch)
    accepted.append(message_id)
    if len(accepted) == {after}:
        os.kill(os.getpid(), signal.SIGKILL)  # accepted by the provider, not yet recorded in the ledger
    return message_id
sendgrid.SendGridHook.send = then_die
from airflow.dag_processing.dagbag import DagBag
dag = DagBag(dag_folder={dag_file!r}).dags[{dag_id!r}]
dag.test(logical_date=pendulum.parse({instant!r}), mark_success_pattern={pattern!r})
"""


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def _only(tasks: str) -> str:
    """dag.test() marks success the task ids this fullmatches: every task but ``tasks`` (an alternation)."""
    return f"(?!({tasks})$).*"


def run_dag(dag_file: str, dag_id: str, instant: datetime, tasks: str) -> dict[str, str]:
    from airflow.dag_processing.dagbag import DagBag

    os.environ["NPS_FAKE_NOW"] = instant.isoformat()
    dag = DagBag(dag_folder=str(ROOT / "dags" / dag_file)).dags[dag_id]
    return _states(dag.test(logical_date=pendulum.instance(instant, tz="UTC"), mark_success_pattern=_only(tasks)))


def kill_mid_send(dag_file: str, dag_id: str, instant: datetime, task: str, after: int) -> None:
    os.environ["NPS_FAKE_NOW"] = instant.isoformat()
    code = KILLED.format(root=str(ROOT), plugins=str(ROOT / "plugins"), after=after, dag_file=str(ROOT / "dags" / dag_file),
                         dag_id=dag_id, instant=pendulum.instance(instant, tz="UTC").isoformat(), pattern=_only(task))
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300,
                         env=os.environ.copy(), cwd=ROOT)
    assert out.returncode == -signal.SIGKILL, (out.returncode, out.stderr[-3000:])


def ledger(wh, prefix: str) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in wh.query(
        "SELECT status, COUNT(*) AS n FROM ops.message_ledger WHERE send_key LIKE :p GROUP BY status", {"p": f"{prefix}%"})}


def webhook_evidence(sg: FakeSendGrid, wh, landing: Path) -> None:
    """SendGrid's Event Webhook for what it accepted, loaded the way production loads it."""
    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing

    sg.write_webhook_batch(landing, f"after-the-kill-{len(sg.accepted)}.json", sg.webhook_events("delivered"))
    results = ingest_events(wh, Landing(str(landing)))
    assert [r.status for r in results] == ["loaded"], [r.reason for r in results]


@pytest.fixture
def mail(airflow_db, warehouse, tmp_path, monkeypatch, program_config):
    """The fake SendGrid server behind nps_sendgrid, the warehouse, and a config with two digest recipients."""
    data = program_config.model_dump(mode="json", exclude_none=True)
    data["followups"]["digest"] = [{"email": "cs-lead@example.com", "name": "CS lead"},
                                   {"email": "vp-customer-success@example.com", "name": "VP Customer Success"}]
    cfg = tmp_path / "program.yaml"
    cfg.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with FakeSendGrid() as sg:
        for k, v in {"AIRFLOW_CONN_NPS_SENDGRID": json.dumps({"conn_type": "generic", "password": DEFAULT_API_KEY,
                                                             "extra": {"host": sg.url, "timeout": 10}}),
                     "AIRFLOW_CONN_NPS_WAREHOUSE": warehouse.url, "NPS_PROGRAM_CONFIG": str(cfg),
                     "NPS_OUTBOX_DIR": str(tmp_path / "outbox"), "NPS_LANDING_URI": str(tmp_path / "landing"),
                     "NPS_REPORTS_URI": str(tmp_path / "reports"), "NPS_FAKE_NOW": FRI.isoformat()}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
        yield sg, warehouse, tmp_path / "landing"
    assert not (tmp_path / "outbox").exists(), "an email went to the outbox instead of SendGrid"


def _loop_data(wh) -> None:
    """Four answers that each need a follow-up; two cases: A1's owner and A2 (no usable owner: the CS lead)."""
    a2 = {**account("A2", name="Baltic Freight"), "owner_email": "n/a", "owner_name": "Bob"}
    seed(wh, [("S1", "P1", "nps", "en"), ("S2", "P2", "nps", "pl"), ("S3", "P3", "ces", "en"), ("S4", "P4", "nps", "en")],
         accounts=[account("A1", name="Smith & Sons"), a2],
         contacts=[contact("P1", "A1"), contact("P2", "A1", locale="pl", first="Zoë"), contact("P3", "A2"),
                   contact("P4", "A1")])
    answers(wh, [answer("S1", "nps", 10, ANSWERED), answer("S2", "nps", 3, ANSWERED, comment="Za drogo"),
                 answer("S3", "ces", 2, ANSWERED), answer("S4", "nps", 7, ANSWERED)])


# task, the instant it is killed at, the send keys' prefix, after how many accepted requests, and
# the intended recipients (send key suffix or address -> messages), worked out by hand.
LOOP_CASES = [
    pytest.param("send_followups", FRI, "followup/", 1,
                 {"p1@a1.example.com": 1, "p2@a1.example.com": 1, "p3@a2.example.com": 1, "p4@a1.example.com": 1},
                 id="followups"),
    pytest.param("alert_owners", FRI, "alert/", 1, {"alice@example.com": 1, "cs-lead@example.com": 1}, id="owner-alerts"),
    pytest.param("escalate_cases", TUE, "escalation/", 1, {"cs-lead@example.com": 2}, id="escalations"),
    pytest.param("send_digest", FRI, "digest/", 1, {"cs-lead@example.com": 1, "vp-customer-success@example.com": 1},
                 id="digest"),
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("task", "instant", "prefix", "after", "intended"), LOOP_CASES)
def test_close_the_loop_task_killed_mid_send_then_rerun(mail, task, instant, prefix, after, intended):
    sg, wh, landing = mail
    _loop_data(wh)
    dag = ("nps_close_the_loop.py", "nps_close_the_loop")
    assert set(run_dag(*dag, FRI, BEFORE[task]).values()) <= {"success", "skipped"}

    kill_mid_send(*dag, instant, task, after)
    mine = {k: n for k, n in received(sg).items() if k.startswith(prefix)}
    assert len(mine) == after and set(mine.values()) == {1}  # the killed worker's request went out
    assert ledger(wh, prefix) == {"sending": after, "claimed": sum(intended.values()) - after}

    webhook_evidence(sg, wh, landing)
    assert run_dag(*dag, instant, task)[task] == "success"

    keys = {k: n for k, n in received(sg).items() if k.startswith(prefix)}
    assert set(keys.values()) == {1} and len(keys) == sum(intended.values())
    assert Counter(a for (k, a), n in addressed(sg).items() if k.startswith(prefix) for _ in range(n)) == intended
    assert ledger(wh, prefix) == {"sent": sum(intended.values())}
    # And again: nothing more.
    assert run_dag(*dag, instant, task)[task] == "success"
    assert {k: n for k, n in received(sg).items() if k.startswith(prefix)} == keys


@pytest.mark.timeout(600)
def test_report_send_killed_mid_send_then_rerun(mail, program_config):
    from nps.config import parse_config
    from tests.reports.helpers import REPORTS_CONFIG, build_fixture, config_with

    sg, wh, landing = mail
    data = config_with(program_config, recipients={**REPORTS_CONFIG["recipients"],
                                                   "monthly": REPORTS_CONFIG["recipients"]["monthly"][:2]})
    Path(os.environ["NPS_PROGRAM_CONFIG"]).write_text(
        yaml.safe_dump(data.model_dump(mode="json", exclude_none=True), allow_unicode=True), encoding="utf-8")
    config = parse_config(yaml.safe_load(Path(os.environ["NPS_PROGRAM_CONFIG"]).read_text(encoding="utf-8")))
    build_fixture(wh, config)
    dag = ("nps_kpi_reports.py", "nps_kpi_reports_monthly")
    dec1 = datetime(2026, 12, 1, 6, 30)  # reports November
    assert run_dag(*dag, dec1, "migrate_warehouse|render_and_archive") == {
        "migrate_warehouse": "success", "render_and_archive": "success", "send_reports": "success"}  # marked

    kill_mid_send(*dag, dec1, "send_reports", 2)
    prefix = "report/monthly/2026-11/"
    assert len([k for k in received(sg) if k.startswith(prefix)]) == 2
    # The first request recorded sent, the second accepted but not recorded, three never sent.
    assert ledger(wh, prefix) == {"sent": 1, "sending": 1, "claimed": 3}

    webhook_evidence(sg, wh, landing)
    assert run_dag(*dag, dec1, "send_reports")["send_reports"] == "success"
    intended = {"vp@example.com": 1, "zarzad@example.com": 1, "enterprise@example.com": 1, "fintech-lead@example.com": 1,
                "retail-lead@example.com": 1}
    assert Counter(a for (k, a), n in addressed(sg).items() if k.startswith(prefix) for _ in range(n)) == intended
    assert set(received(sg).values()) == {1} and ledger(wh, prefix) == {"sent": 5}
