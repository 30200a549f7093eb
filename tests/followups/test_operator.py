"""CloseTheLoopOperator outside a DAG: its arguments, the CRM step with its connection, and the
errors that name what to fix."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from nps.followups.decide import decide
from nps.operators import CloseTheLoopOperator
from tests.cohorts.helpers import CONFIG
from tests.followups.helpers import FOLLOWUPS, answer, answers, fconfig, seed
from tests.followups.test_crm import SECRET, FakeCrm

NOW = datetime(2026, 10, 7, 12)


class _TI:
    def __init__(self) -> None:
        self.pushed: dict = {}

    def xcom_push(self, key, value) -> None:
        self.pushed[key] = value


def _ctx():
    return {"run_id": "manual__t", "ti": _TI(), "logical_date": NOW}


def _yaml(crm_enabled: bool) -> str:
    return yaml.safe_dump({**CONFIG, "followups": {**FOLLOWUPS, "crm_webhook": {"enabled": crm_enabled, "max_retries": 1}}})


def test_arguments_are_checked():
    with pytest.raises(ValueError, match="step 'send': use one of case_files, decide, send_followups"):
        CloseTheLoopOperator(task_id="x", step="send")
    with pytest.raises(TypeError):
        CloseTheLoopOperator("x", "decide")  # keyword-only
    op = CloseTheLoopOperator(task_id="x", step="send_followups")
    assert [a.name for a in op.outlets] == ["nps_followups"]
    assert {"as_of", "since", "dry_run", "transport", "landing_uri", "crm_conn_id"} <= set(op.template_fields)


def test_crm_step_posts_case_events_through_the_connection(warehouse, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", warehouse.url)
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    seed(warehouse, [("S1", "P1", "nps", "en")])
    answers(warehouse, [answer("S1", "nps", 1, datetime(2026, 10, 7, 9))])
    decide(warehouse, fconfig(), NOW, "run1")
    off = CloseTheLoopOperator(task_id="crm", step="crm_webhook", config=_yaml(False))
    with pytest.raises(AirflowSkipException, match="crm_webhook.enabled is false"):
        off.execute(_ctx())
    on = CloseTheLoopOperator(task_id="crm", step="crm_webhook", config=_yaml(True), crm_conn_id="nps_crm_missing")
    with pytest.raises(AirflowFailException, match="connection 'nps_crm_missing' not found: add an HTTP connection"):
        on.execute(_ctx())
    with FakeCrm() as crm:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_CRM_WEBHOOK", json.dumps({"conn_type": "http", "host": crm.url,
                                                                       "password": SECRET}))
        summary = CloseTheLoopOperator(task_id="crm", step="crm_webhook", config=_yaml(True)).execute(_ctx())
        assert (summary["claimed"], summary["posted"], summary["failed"]) == (1, 1, 0)
        crm.script(400)
        decide(warehouse, fconfig(), NOW, "run2")  # nothing new: no event to post
        again = CloseTheLoopOperator(task_id="crm", step="crm_webhook", config=_yaml(True)).execute(_ctx())
        assert again["posted"] == 0
    assert [r["key"] for r in crm.requests] == ["case/C-S1/1"] and crm.requests[0]["good"]
