"""Slack (nps.slack, nps.notifications): failure notifications through the Slack provider's own
``SlackWebhookNotifier`` and the run's new cases through the exactly-once ledger, both posted to a
loopback Slack webhook server the test starts (tests/support/slack_server.py); the exact payloads,
never a secret or a customer address; without the provider nothing breaks."""

from __future__ import annotations

import json
import sys
from datetime import datetime

import pytest

from nps.notifications import FailureNotifier
from tests.support.slack_server import TOKEN_PATH, SlackWebhookServer
from tests.test_notifications import ERROR, LOG_URL, _context

FRI = datetime(2026, 10, 9, 12, 10)


def _slack_connection(monkeypatch, slack: SlackWebhookServer, conn_id: str = "nps_slack") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(
        {"conn_type": "slackwebhook", "password": slack.webhook_url, "extra": {"timeout": 5}}))


@pytest.fixture
def deployed(monkeypatch):
    for name in ("NPS_EMBEDDED", "NPS_ALERT_EMAIL", "AIRFLOW_CONN_NPS_ALERTS_SMTP", "AIRFLOW_CONN_NPS_SMTP",
                 "AIRFLOW_CONN_NPS_ALERTS_SLACK", "AIRFLOW_CONN_NPS_SLACK", "AIRFLOW_CONN_NPS_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)


def test_failure_notification_to_slack_exact_payload(deployed, monkeypatch, tmp_path):
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == ["slack"]
    [req] = slack.requests
    assert req["path"] == TOKEN_PATH and req["content_type"].startswith("application/json")
    assert req["body"] == {"text": (
        ":red_circle: *[nps] nps_build_marts.build_staging failed (try 3)*\n"
        "DAG: `nps_build_marts`  Task: `build_staging`  Try: 3\n"
        "Run: `manual__2026-12-01`\n"
        "Error: ValueError: row 12 of contacts.csv: j***@example.com is suppressed; warehouse "
        "postgresql://loader:***@db.internal:5432/nps refused\n"
        f"<{LOG_URL.replace('&', '&amp;')}|Task log>\n"
        "What to do: README.md, On-call runbook, \"Failure notifications\"."
    )}
    raw = json.dumps(req["body"])
    for secret in ("jane.doe", "s3cret", "not-a-real-webhook-secret", "Traceback line two"):
        assert secret not in raw
    assert not (tmp_path / "alerts").exists()


def test_the_alerts_connection_wins_over_the_programs(deployed, monkeypatch, tmp_path):
    with SlackWebhookServer() as program, SlackWebhookServer() as oncall:
        _slack_connection(monkeypatch, program)
        _slack_connection(monkeypatch, oncall, "nps_alerts_slack")
        assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == ["slack"]
    assert (len(program.requests), len(oncall.requests)) == (0, 1)


def test_without_the_provider_nothing_breaks(deployed, monkeypatch, tmp_path, caplog):
    from nps import slack as nps_slack

    # As if apache-airflow-providers-slack were not installed: importing it raises ImportError.
    for mod in ("airflow.providers.slack.notifications.slack_webhook", "airflow.providers.slack.hooks.slack_webhook"):
        monkeypatch.setitem(sys.modules, mod, None)
    monkeypatch.setenv("NPS_EMBEDDED", "1")
    caplog.set_level("ERROR")
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        assert FailureNotifier(outbox_dir=tmp_path).notify(_context(ERROR)) == ["outbox"]
        assert nps_slack.configured() is False
    assert slack.requests == []
    assert "the Slack provider is not installed: pip install 'nps-program[slack]'" in caplog.text


# -- the run's new cases, through the ledger ---------------------------------------------------------
def _decided(wh, program_config, run_id: str = "scheduled__2026-10-09T12:10:00+00:00") -> None:
    from nps.followups.decide import decide
    from tests.dags.test_rerun_safety_emails import _loop_data

    _loop_data(wh)
    decide(wh, program_config, FRI, run_id)


CASES_TEXT = (
    ":rotating_light: *NPS: 2 new cases* for the account owners (run scheduled__2026-10-09T12:10:00+00:00)\n"
    "• *C-S2* Smith &amp; Sons: NPS 3 (detractor), owner Alice, due Tue 2026-10-13 {due}\n"
    "• *C-S3* Baltic Freight: CES 2 (high_effort), owner Bob, due Tue 2026-10-13 {due}"
)


def test_new_cases_posted_once_per_run(warehouse, program_config, monkeypatch):
    from nps import slack as nps_slack

    run_id = "scheduled__2026-10-09T12:10:00+00:00"
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _decided(warehouse, program_config, run_id)
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        assert nps_slack.configured()
        first = nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI, run_id=run_id)
        again = nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI, run_id=run_id)
        later = nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI,
                                         run_id="scheduled__2026-10-09T13:10:00+00:00")  # opened no case
    assert (first.posted, first.cases, again.posted, again.ledger["already_sent"], later.cases) == (1, 2, 0, 1, 0)
    assert slack.posted == [{"text": CASES_TEXT.format(due="14:10 CEST")}]
    raw = json.dumps(slack.posted)
    assert "@" not in raw and "Za drogo" not in raw  # no address, no customer comment
    row = warehouse.query("SELECT send_key, kind, scope, status, transport, sends FROM ops.message_ledger")
    assert row == [{"send_key": f"slack/cases/{run_id}", "kind": "slack", "scope": "slack", "status": "sent",
                    "transport": "slack", "sends": 1}]


def test_slack_unavailable_then_rejected_then_fixed(warehouse, program_config, monkeypatch):
    from nps import slack as nps_slack

    run_id = "scheduled__2026-10-09T12:10:00+00:00"
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _decided(warehouse, program_config, run_id)
    post = lambda: nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI,  # noqa: E731
                                            run_id=run_id)
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        slack.script(500)            # Slack down: not posted, claimed again
        down = post()
        slack.script(404)            # the webhook was revoked: failed until someone fixes it
        revoked = post()
        fixed = post()               # fixed: a rerun posts it, once
        done = post()
    assert (down.posted, down.ledger["failed"], len(down.ledger["errors"])) == (0, 0, 1)
    assert "HTTP 500 internal_error" in down.ledger["errors"][0]
    assert (revoked.posted, revoked.ledger["failed"]) == (0, 1) and "HTTP 404 no_service" in revoked.ledger["errors"][0]
    assert (fixed.posted, done.posted, done.ledger["already_sent"]) == (1, 0, 1)
    assert [r["status"] for r in slack.requests] == [500, 404, 200]
    assert slack.posted == [{"text": CASES_TEXT.format(due="14:10 CEST")}]


def test_alert_owners_step_fails_retries_or_posts_as_slack_answers(warehouse, program_config, monkeypatch):
    """The operator's one call site: 404 fails at once naming the connection; 500 raises an ordinary
    error (Airflow retries the task); then the retry posts, once."""
    from airflow.sdk.exceptions import AirflowFailException

    from nps.operators import CloseTheLoopOperator

    run_id = "scheduled__2026-10-09T12:10:00+00:00"
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _decided(warehouse, program_config, run_id)
    op = CloseTheLoopOperator(task_id="alert_owners", step="owner_alerts")
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        slack.script(404)
        with pytest.raises(AirflowFailException, match="Slack rejected the new-cases summary: .*HTTP 404 no_service.*nps_slack"):
            op._slack(warehouse, program_config, FRI, run_id)
        slack.script(500)
        with pytest.raises(RuntimeError, match="a retry posts it") as down:
            op._slack(warehouse, program_config, FRI, run_id)
        assert not isinstance(down.value, AirflowFailException)
        assert op._slack(warehouse, program_config, FRI, run_id)["posted"] == 1
        assert op._slack(warehouse, program_config, FRI, run_id)["posted"] == 0
    assert [r["status"] for r in slack.requests] == [404, 500, 200]
    monkeypatch.delenv("AIRFLOW_CONN_NPS_SLACK")
    assert op._slack(warehouse, program_config, FRI, run_id) is None  # no connection: nothing to do


def test_a_post_that_timed_out_waits_for_the_grace_period(warehouse, program_config, monkeypatch):
    """No answer in time: maybe posted. Slack gives no evidence, so the ledger waits (the task
    reschedules) and posts again only after dispatch.reconcile_grace_minutes: one possible repeat,
    never a lost summary."""
    from datetime import timedelta

    from nps import slack as nps_slack
    from nps.dispatch import SendsPending

    run_id = "scheduled__2026-10-09T12:10:00+00:00"
    monkeypatch.setenv("NPS_FAKE_NOW", FRI.isoformat())
    _decided(warehouse, program_config, run_id)
    grace = program_config.dispatch.reconcile_grace_minutes
    with SlackWebhookServer() as slack:
        _slack_connection(monkeypatch, slack)
        slack.script(("sleep", 3))
        with pytest.raises(SendsPending):
            nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(timeout=1), now=FRI, run_id=run_id)
        assert warehouse.scalar("SELECT status FROM ops.message_ledger") == "sending"
        with pytest.raises(SendsPending):  # within the grace period: nothing posted on a guess
            nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI, run_id=run_id)
        monkeypatch.setenv("NPS_FAKE_NOW", (FRI + timedelta(minutes=grace, seconds=5)).isoformat())
        late = nps_slack.post_new_cases(warehouse, program_config, nps_slack.SlackTransport(), now=FRI, run_id=run_id)
    assert (late.posted, late.ledger["requeued"]) == (1, 1)
    assert len(slack.requests) == 2 and warehouse.scalar("SELECT status FROM ops.message_ledger") == "sent"
