"""Rerun safety of the emailing DAGs, counted at the SendGrid-compatible server: ``nps_close_the_loop``
and ``nps_kpi_reports_weekly`` / ``_monthly`` / ``_quarterly`` (dispatch, ingestion and marts:
tests/dags/test_rerun_safety.py).

Every email goes through the real ``nps_sendgrid`` connection to the strict fake SendGrid server
(tests/support/sendgrid_server.py) the test starts; the outbox stays empty. For each DAG: run its
intervals (a week of hourly close-the-loop instants, a day apart; weeks, months and a quarter of
reports), run the last interval again, clear each task alone and rerun it (every other task of the
run marked success, Airflow's ``mark_success_pattern``), and backfill the same intervals again.
After every step the warehouse holds what it held after the first pass (decisions, cases, case
history, ledger rows with their send counts) and the server has received every intended recipient
exactly once: one request body per send key, never two. With the ``nps_slack`` connection pointing
at a loopback Slack webhook server, the run that opened cases posts them once, and no rerun again.

A worker SIGKILLed in the middle of each email-sending task is in tests/dags/test_sigkill_emails.py.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from tests.cohorts.helpers import account, contact
from tests.followups.helpers import answer, answers, seed
from tests.support.sendgrid_server import DEFAULT_API_KEY, FakeSendGrid
from tests.support.slack_server import SlackWebhookServer

ROOT = Path(__file__).resolve().parents[2]
# Close the loop: the hourly run at :10, once a day for a week (Fri 2026-10-09 .. Thu 2026-10-15),
# 14:10 in Warsaw (after the digest hour), the answers in on Friday morning.
LOOP_DAYS = [datetime(2026, 10, d, 12, 10) for d in range(9, 16)]
ANSWERED = datetime(2026, 10, 9, 7, 10)

LOOP_SNAPSHOT = {
    "decisions": "SELECT survey_id, response_id, status, template, send_key, reason FROM ops.followup_decisions",
    "cases": "SELECT case_id, status, escalation_level, owner_alert_key, owner_alerted_at, escalated_at FROM ops.followup_cases",
    "history": "SELECT case_id, seq, event, from_status, to_status, detail FROM ops.followup_case_history",
    "ledger": "SELECT send_key, kind, scope, status, sends, recipient_hash FROM ops.message_ledger",
}
REPORTS_SNAPSHOT = {
    "ledger": "SELECT send_key, kind, scope, status, sends, recipient_hash FROM ops.message_ledger",
}


def _dags():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags


def _states(dr) -> dict[str, str]:
    from airflow.utils.session import create_session

    with create_session() as session:
        return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in dr.get_task_instances(session=session)}


def received(sg: FakeSendGrid) -> Counter:
    """How often the server accepted each send key (one personalization per recipient)."""
    return Counter(a["send_key"] for a in sg.accepted_custom_args())


def addressed(sg: FakeSendGrid) -> Counter:
    """How often the server accepted a message for each (send key, address)."""
    return Counter((p["custom_args"]["send_key"], p["to"][0]["email"]) for body in sg.accepted
                   for p in body["personalizations"])


def snapshot(wh, queries: dict[str, str]) -> dict:
    return {k: sorted((tuple(r.values()) for r in wh.query(sql)), key=repr) for k, sql in queries.items()}


@pytest.fixture
def sendgrid(airflow_db, tmp_path, monkeypatch):
    """The fake SendGrid server behind the nps_sendgrid connection; the outbox must stay empty."""
    with FakeSendGrid() as sg:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_SENDGRID", json.dumps(
            {"conn_type": "generic", "password": DEFAULT_API_KEY, "extra": {"host": sg.url, "timeout": 10}}))
        monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
        monkeypatch.setenv("NPS_OUTBOX_DIR", str(tmp_path / "outbox"))
        monkeypatch.setenv("NPS_LANDING_URI", str(tmp_path / "landing"))
        yield sg
    assert not (tmp_path / "outbox").exists(), "an email went to the outbox instead of SendGrid"


@pytest.fixture
def slack(monkeypatch):
    """A Slack incoming webhook behind the nps_slack connection (the run's new cases are posted there)."""
    with SlackWebhookServer() as server:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_SLACK", json.dumps({"conn_type": "slackwebhook", "password": server.webhook_url}))
        yield server


def _runner(dags, monkeypatch):
    def run(dag_id: str, instant: datetime, only: str | None = None, expect: dict[str, str] | None = None):
        # only=<task>: the run as the on-call engineer leaves it after clearing that one task.
        monkeypatch.setenv("NPS_FAKE_NOW", instant.isoformat())
        # dag.test() fullmatches the pattern against each task id: every task but `only`.
        pattern = f"(?!{only}$).*" if only else None
        dr = dags[dag_id].test(logical_date=pendulum.instance(instant, tz="UTC"), mark_success_pattern=pattern)
        states = _states(dr)
        if expect is not None:
            if only:  # the others are marked success (a task that skips itself still says skipped)
                assert states[only] == expect[only], (dag_id, instant, only, states)
            else:
                assert states == expect, (dag_id, instant, states)
        return dr

    return run


# -- nps_close_the_loop ----------------------------------------------------------------------------
def _loop_data(wh) -> None:
    """Two accounts (A2's owner address is unusable: its cases go to the CS lead) and five answers."""
    a2 = {**account("A2", name="Baltic Freight"), "owner_email": "n/a", "owner_name": "Bob"}
    seed(wh, [("S1", "P1", "nps", "en"), ("S2", "P2", "nps", "pl"), ("S3", "P3", "ces", "en"),
              ("S4", "P4", "nps", "en"), ("S5", "P5", "nps", "en")],
         accounts=[account("A1", name="Smith & Sons"), a2],
         contacts=[contact("P1", "A1"), contact("P2", "A1", locale="pl", first="Zoë"), contact("P3", "A2"),
                   contact("P4", "A1"), contact("P5", "A2")])
    answers(wh, [answer("S1", "nps", 10, ANSWERED), answer("S2", "nps", 3, ANSWERED, comment="Za drogo"),
                 answer("S3", "ces", 2, ANSWERED), answer("S4", "nps", 7, ANSWERED),
                 answer("S5", "nps", 10, ANSWERED - timedelta(days=30))])  # too old to email: recorded only


LOOP_TASKS = ["migrate_warehouse", "apply_case_files", "decide_followups", "send_followups", "alert_owners",
              "escalate_cases", "send_digest", "post_crm_events"]
LOOP_OK = {**{t: "success" for t in LOOP_TASKS[:-1]}, "post_crm_events": "skipped"}


@pytest.mark.timeout(1200)
def test_close_the_loop_reruns_clears_and_backfills_send_each_email_once(sendgrid, slack, warehouse, monkeypatch):
    from nps.ledger import recipient_hash

    sg, wh = sendgrid, warehouse
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", wh.url)
    _loop_data(wh)
    dags = _dags()
    run = _runner(dags, monkeypatch)
    dag_id = "nps_close_the_loop"
    assert sorted(dags[dag_id].task_ids) == sorted(LOOP_TASKS)

    for day in LOOP_DAYS:  # the week, as the scheduler runs it
        run(dag_id, day, expect=LOOP_OK)
    first = snapshot(wh, LOOP_SNAPSHOT)
    sent = received(sg)
    # Worked out by hand: follow-ups for S1 (promoter), S2 (detractor, pl), S3 (high effort) and
    # S4 (passive), none for S5 (older than max_answer_age_days); one alert to A1's owner (case
    # C-S2) and one to the CS lead (C-S3, A2 has no usable owner address); both cases overdue on Tuesday
    # (level 1) and a day later (level 2); one digest a day to the CS lead, Friday to Thursday, and
    # one owner digest a day to Alice (A1's open case; A2 has no usable owner address).
    kinds = Counter(k.split("/", 1)[0] for k in sent)
    assert kinds == {"followup": 4, "alert": 2, "escalation": 4, "digest": 7, "owner-digest": 7}, kinds
    assert set(sent.values()) == {1} and sum(sent.values()) == 24
    assert {k for k in sent if k.startswith("followup/")} == {"followup/S1", "followup/S2", "followup/S3", "followup/S4"}
    assert {k for k in sent if k.startswith("escalation/")} == {f"escalation/C-S{s}/{lvl}" for s in (2, 3) for lvl in (1, 2)}
    lead = recipient_hash("cs-lead@example.com")
    assert {k for k in sent if k.startswith("digest/")} == {f"digest/2026-10-{d:02d}/{lead}" for d in range(9, 16)}
    to = addressed(sg)
    assert sorted(a for (k, a) in to if k.startswith("alert/")) == ["alice@example.com", "cs-lead@example.com"]
    assert {a for (k, a) in to if k.startswith("owner-digest/")} == {"alice@example.com"}
    assert sorted(a for (k, a) in to if k.startswith("escalation/")) == [
        "cs-lead@example.com", "cs-lead@example.com", "vp-customer-success@example.com", "vp-customer-success@example.com"]
    assert {(r[0], r[3], r[4]) for r in first["ledger"] if r[1] != "slack"} == {(k, "sent", 1) for k in sent}
    # Slack: one summary, by the run that opened the two cases (Friday's), never again.
    # (dag.test names each run manual__<when it ran>, so the key is read back, not predicted.)
    [slack_key] = [r[0] for r in first["ledger"] if r[1] == "slack"]
    run_fri = slack_key.removeprefix("slack/cases/")
    assert run_fri.startswith("manual__") and len(slack.posted) == 1
    assert slack.posted[0]["text"].splitlines()[0] == f":rotating_light: *NPS: 2 new cases* for the account owners (run {run_fri})"
    assert {r[0]: r[2] for r in first["decisions"]} == {"S1": "sent", "S2": "sent", "S3": "sent", "S4": "sent",
                                                       "S5": "not_needed"}
    assert {r[0]: r[2] for r in first["cases"]} == {"C-S2": 2, "C-S3": 2}

    # The last interval again, then each task of it cleared alone and rerun.
    run(dag_id, LOOP_DAYS[-1], expect=LOOP_OK)
    assert snapshot(wh, LOOP_SNAPSHOT) == first and received(sg) == sent
    for task in LOOP_TASKS[:-1]:
        run(dag_id, LOOP_DAYS[-1], only=task, expect=LOOP_OK)
        assert snapshot(wh, LOOP_SNAPSHOT) == first, task
        assert received(sg) == sent, task
    # A backfill over the processed week: every interval again, in order; nothing new, nobody twice.
    for day in LOOP_DAYS:
        run(dag_id, day, expect=LOOP_OK)
        assert snapshot(wh, LOOP_SNAPSHOT) == first, day
    assert received(sg) == sent and len(sg.accepted) == len(sg.requests)
    assert len(slack.requests) == 1


# -- nps_kpi_reports_weekly / _monthly / _quarterly ------------------------------------------------
#: Each DAG's runs (dag.test infers the data interval that ends at the logical date, as a manual
#: run does): weeks 2026-11-09..15 and 16..22, October and November, the fourth quarter.
REPORT_RUNS = {
    "weekly": [datetime(2026, 11, 16, 6, 30), datetime(2026, 11, 23, 6, 30)],
    "monthly": [datetime(2026, 11, 1, 6, 30), datetime(2026, 12, 1, 6, 30)],
    "quarterly": [datetime(2027, 1, 1, 6, 30)],
}
# The recipients, from the config below: weekly: one a week; monthly: the company report to two (en,
# pl) and each of the three segment reports to its lead, every month (a segment with too few answers
# still gets its report, saying so); quarterly: the company pack to one and Alice Morgan's owner page.
REPORT_RECIPIENTS = {
    "nps_kpi_reports_weekly": {"cx@example.com": 2},
    "nps_kpi_reports_monthly": {"vp@example.com": 2, "zarzad@example.com": 2, "enterprise@example.com": 2,
                                "fintech-lead@example.com": 2, "retail-lead@example.com": 2},
    "nps_kpi_reports_quarterly": {"vp@example.com": 1, "alice.morgan@example.com": 1},
}


@pytest.mark.timeout(1200)
def test_kpi_reports_rerun_clear_and_backfill_send_each_report_once(sendgrid, duckdb_url, program_config, tmp_path,
                                                                   monkeypatch):
    import yaml

    from nps import marts
    from nps.warehouse import Warehouse
    from tests.reports.helpers import REPORTS_CONFIG, build_fixture, config_with

    sg = sendgrid
    recipients = {**REPORTS_CONFIG["recipients"], "monthly": REPORTS_CONFIG["recipients"]["monthly"][:2]}
    config = config_with(program_config, recipients=recipients)  # every address valid: every run succeeds
    cfg_path = tmp_path / "program.yaml"
    cfg_path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), allow_unicode=True),
                        encoding="utf-8")
    for k, v in {"AIRFLOW_CONN_NPS_WAREHOUSE": duckdb_url, "NPS_PROGRAM_CONFIG": str(cfg_path),
                 "NPS_REPORTS_URI": str(tmp_path / "reports")}.items():
        monkeypatch.setenv(k, v)
    wh = Warehouse(duckdb_url)
    wh.migrate()
    build_fixture(wh, config)
    marts.rebuild(wh, datetime(2027, 1, 1, 5, 30), config)  # the marts cover the fourth quarter too
    dags = _dags()
    run = _runner(dags, monkeypatch)

    def by_address(dag_kind: str) -> Counter:
        return Counter(a for (k, a), n in addressed(sg).items() if k.startswith(f"report/{dag_kind}/") for _ in range(n))

    try:
        for kind, instants in REPORT_RUNS.items():
            dag_id = f"nps_kpi_reports_{kind}"
            tasks = [t for t in dags[dag_id].task_ids if t != "approve_qbr_pack"]  # the gate is off (qbr.approval)
            ok = {t: "success" for t in tasks} | ({"approve_qbr_pack": "skipped"} if kind == "quarterly" else {})
            for instant in instants:
                run(dag_id, instant, expect=ok)
            first = snapshot(wh, REPORTS_SNAPSHOT)
            sent = received(sg)
            assert set(sent.values()) == {1}, sent
            assert by_address(kind) == REPORT_RECIPIENTS[dag_id], (kind, by_address(kind))
            assert {(r[0], r[3], r[4]) for r in first["ledger"]} == {(k, "sent", 1) for k in sent}

            run(dag_id, instants[-1], expect=ok)  # the last interval again
            assert snapshot(wh, REPORTS_SNAPSHOT) == first and received(sg) == sent
            for task in tasks:  # each task cleared alone and rerun
                run(dag_id, instants[-1], only=task, expect=ok)
                assert snapshot(wh, REPORTS_SNAPSHOT) == first, task
                assert received(sg) == sent, task
            for instant in instants:  # a backfill over the processed intervals
                run(dag_id, instant, expect=ok)
            assert snapshot(wh, REPORTS_SNAPSHOT) == first and received(sg) == sent
    finally:
        wh.dispose()
    assert len(sg.accepted) == len(sg.requests)
