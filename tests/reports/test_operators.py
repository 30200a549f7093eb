"""RenderReportsOperator and SendReportsOperator on the hand-made November fixture, both engines:
summaries with real values, the exactly-once ledger across reruns, resend once per run, a rejected
batch failing without retries, templated fields."""

from __future__ import annotations

from collections import Counter

import pendulum
import pytest
import yaml
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from nps.operators import RenderReportsOperator, SendReportsOperator
from tests.reports.helpers import build_fixture, config_with


class _TI:
    def __init__(self, pulled=None) -> None:
        self.pulled = pulled or {}

    def xcom_pull(self, task_ids=None, key="return_value"):
        return self.pulled.get(task_ids)


def _context(run_id="manual__r1", pulled=None):
    return {"run_id": run_id, "ti": _TI(pulled), "logical_date": None, "params": {}}


@pytest.fixture
def setup(warehouse, program_config, tmp_path, monkeypatch):
    config = config_with(program_config)
    build_fixture(warehouse, config)
    cfg = tmp_path / "program.yaml"
    cfg.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True), allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WH_REPORTS", warehouse.url)
    common = {"warehouse_conn_id": "nps_wh_reports", "config_path": str(cfg), "kind": "monthly",
              "period_start": "2026-11-01", "reports_uri": str(tmp_path / "reports")}
    return warehouse, common, tmp_path


def _sendgrid(monkeypatch, sg) -> None:
    import json

    from tests.support.sendgrid_server import DEFAULT_API_KEY

    monkeypatch.setenv("AIRFLOW_CONN_NPS_SG_REPORTS", json.dumps(
        {"conn_type": "nps_sendgrid", "password": DEFAULT_API_KEY, "host": sg.url}))


def test_render_then_send_exactly_once_and_resend_once_per_run(setup, monkeypatch):
    from nps.ledger import recipient_hash
    from tests.support.sendgrid_server import FakeSendGrid

    wh, common, tmp_path = setup
    render = RenderReportsOperator(task_id="render_and_archive", **common)
    summary = render.execute(_context())
    assert (summary["archive_error"], summary["reports"], summary["archived"], summary["period"]) == (None, 5, 5, "2026-11")
    assert render.archive_url == (tmp_path / "reports" / "index.html").resolve().as_uri()

    with FakeSendGrid() as sg:
        _sendgrid(monkeypatch, sg)
        send = SendReportsOperator(task_id="send_reports", transport="sendgrid", sendgrid_conn_id="nps_sg_reports",
                                   **common)
        # The malformed monthly recipient is skipped and named; everyone else got the report.
        with pytest.raises(AirflowFailException, match=r"skipped 1 malformed addresses: reports.recipients.monthly\[2\]"):
            send.execute(_context(pulled={"render_and_archive": summary}))
        with pytest.raises(AirflowFailException):  # a cleared task sends nothing twice
            send.execute(_context())
        again = SendReportsOperator(task_id="send_reports", transport="sendgrid", sendgrid_conn_id="nps_sg_reports",
                                    resend="True", only="fintech", **common)
        first = again.execute(_context(run_id="manual__resend"))
        second = again.execute(_context(run_id="manual__resend"))  # a retry of the resending run
    keys = Counter(a["send_key"] for a in sg.accepted_custom_args())
    lead = f"report/monthly/2026-11/fintech/{recipient_hash('fintech-lead@example.com')}"
    assert sum(keys.values()) == 5 + 1 and keys[lead] == 2  # the fintech lead got it once more, nobody else
    assert (first["sent"], first["already_sent"], first["period"]) == (1, 0, "2026-11")
    assert (second["sent"], second["already_sent"]) == (0, 1)
    rows = wh.query("SELECT status, COUNT(*) AS n, SUM(sends) AS s FROM ops.message_ledger GROUP BY status")
    assert [(r["status"], int(r["n"]), int(r["s"])) for r in rows] == [("sent", 5, 6)]


def test_rejected_batch_fails_without_retries_and_a_clear_sends_only_it(setup, monkeypatch):
    from tests.support.sendgrid_server import FakeSendGrid

    wh, common, _ = setup
    RenderReportsOperator(task_id="render_and_archive", **common).execute(_context())
    with FakeSendGrid() as sg:
        _sendgrid(monkeypatch, sg)
        op = SendReportsOperator(task_id="send_reports", transport="sendgrid", sendgrid_conn_id="nps_sg_reports",
                                 only="fintech", **common)
        sg.script(400)
        with pytest.raises(AirflowFailException, match="rejected by sendgrid"):
            op.execute(_context())
        done = op.execute(_context())
    assert (done["sent"], done["already_sent"]) == (1, 0) and len(sg.accepted) == 1
    assert wh.query("SELECT status, attempts FROM ops.message_ledger") == [{"status": "sent", "attempts": 2}]


def test_dry_run_skips_and_templated_fields_render(setup):
    _, common, _ = setup
    from airflow.sdk import DAG

    with DAG("t", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        op = SendReportsOperator(task_id="s", kind="weekly", dry_run="{{ params.dry_run }}", resend="{{ params.resend }}",
                                 period_start="{{ params.period_start }}", only="{{ params.only }}")
    op.render_template_fields({"params": {"dry_run": True, "resend": False, "period_start": None, "only": None}})
    assert (op.dry_run, op.resend, op._blank(op.period_start), op._blank(op.only)) == ("True", "False", None, None)
    with pytest.raises(AirflowSkipException, match="nothing is sent"):
        op.execute(_context())
    with pytest.raises(ValueError, match="kind='daily'"):
        RenderReportsOperator(task_id="r", kind="daily")
