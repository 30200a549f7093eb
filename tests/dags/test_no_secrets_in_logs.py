"""Every DAG, run with dag.test() and every log line captured at DEBUG: no address, token or key.

The three DAGs run as one story on one warehouse: invitations go out through the strict SendGrid
server, SendGrid's webhook batch and a response file (with the real survey tokens) land, ingestion
loads them, the marts build. Everything any logger emitted (records at DEBUG, stdout, stderr and
the task log files) is searched for every recipient address, every survey token, the SendGrid API
key and the token secret.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pendulum
import pytest

from tests.support.sendgrid_server import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
API_KEY = "SG.logs-test-key-8d1f0a"
#: Loggers captured at DEBUG with a handler of their own (Airflow's task logging may drop DEBUG
#: records before they reach the root logger): the project's and the HTTP client under SendGrid's.
DEBUG_LOGGERS = ("nps", "python_http_client", "airflow.task")


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def _dag(name: str):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags" / f"{name}.py")).dags[name]


def _state(dr) -> str:
    return str(dr.state).rsplit(".", 1)[-1].lower()


def _captured(caplog, capfd, keep: _Keep) -> str:
    records = []
    for r in [*caplog.records, *keep.records]:
        records.append(f"{r.name} {r.levelname} {r.getMessage()}")
        if r.exc_info and r.exc_info[1] is not None:
            records.append(repr(r.exc_info[1]))
    out, err = capfd.readouterr()
    files = []
    logs = Path(os.environ["AIRFLOW_HOME"]) / "logs"
    if logs.exists():
        files = [p.read_text(errors="replace") for p in logs.rglob("*") if p.is_file()]
    return "\n".join([*records, out, err, *files])


@pytest.mark.timeout(600)
def test_no_address_token_or_key_in_any_dag_log(airflow_db, tmp_path, monkeypatch, program_config, caplog, capfd):
    from nps.demo.generator import generate, load_base
    from nps.email.render import TAG_TOKEN
    from nps.warehouse import Warehouse

    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    landing = tmp_path / "landing"
    monkeypatch.setenv("AIRFLOW_CONN_NPS_WAREHOUSE", url)
    monkeypatch.setenv("NPS_LANDING_URI", str(landing))
    monkeypatch.delenv("NPS_EMAIL_TRANSPORT", raising=False)
    secret = os.environ["NPS_TOKEN_SECRET"]
    wh = Warehouse(url)
    wh.migrate()
    load_base(wh, generate(program_config, n_accounts=200))
    caplog.set_level(logging.DEBUG)
    # As if an operator turned on DEBUG logging: libraries that dump requests at DEBUG now would.
    keep = _Keep()
    for name in DEBUG_LOGGERS:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "level", logging.DEBUG)
        monkeypatch.setattr(logger, "disabled", False)
        logger.addHandler(keep)
    monkeypatch.setattr(logging.getLogger("python_http_client.client"), "disabled", False)

    with FakeSendGrid(api_key=API_KEY) as sg:
        monkeypatch.setenv("AIRFLOW_CONN_NPS_SENDGRID", json.dumps(
            {"conn_type": "generic", "password": API_KEY, "extra": {"host": sg.url}}))
        monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-06T06:05:00")
        dr = _dag("nps_dispatch_surveys").test(logical_date=pendulum.datetime(2026, 10, 5, 6, tz="UTC"))
        assert _state(dr) == "success"
        personalizations = [p for body in sg.accepted for p in body["personalizations"]]
        assert len(personalizations) > 20
        # SendGrid's webhook batch and a response file with the survey tokens from the emails.
        sg.write_webhook_batch(landing, "2026-10-06.json", sg.webhook_events("delivered", timestamp=1791266700))
    tokens = sorted({p["substitutions"][TAG_TOKEN] for p in personalizations})
    nps = [p for body in sg.accepted if "nps" in body["categories"] for p in body["personalizations"]]
    lines = ["token,score,comment,responded_at,locale"]
    lines += [f"{p['substitutions'][TAG_TOKEN]},9,Great support,2026-10-06T10:00:00Z,en" for p in nps[:5]]
    lines += [f"{nps[5]['substitutions'][TAG_TOKEN]}x,9,,2026-10-06T10:00:00Z,en"]  # a broken token: quarantined
    (landing / "responses").mkdir(parents=True, exist_ok=True)
    (landing / "responses" / "2026-10-06.csv").write_text("\r\n".join(lines) + "\r\n")

    monkeypatch.setenv("NPS_FAKE_NOW", "2026-10-07T12:00:00")
    dr = _dag("nps_ingest_responses").test(logical_date=pendulum.datetime(2026, 10, 7, 12, tz="UTC"))
    assert _state(dr) == "success"
    assert wh.scalar("SELECT COUNT(*) FROM ops.raw_responses") == 5
    assert wh.scalar("SELECT COUNT(*) FROM ops.quarantine") == 1
    assert wh.scalar("SELECT COUNT(*) FROM ops.email_events") == len(personalizations)

    dr = _dag("nps_build_marts").test(logical_date=pendulum.datetime(2026, 10, 8, 5, 30, tz="UTC"))
    assert _state(dr) == "success"

    for name in DEBUG_LOGGERS:
        logging.getLogger(name).removeHandler(keep)
    text = _captured(caplog, capfd, keep)
    # DEBUG records did reach the capture (the loader's per-chunk line is DEBUG).
    assert any(r.levelno == logging.DEBUG and r.name == "nps.ingest.load" for r in keep.records)
    # The capture works: each DAG's own summary lines are in it.
    for expected in ("dispatch of 2026-10-04T0600", "responses/2026-10-06.csv: read 6, loaded 5, quarantined 1",
                     "published marts from"):
        assert expected in text, expected
    addresses = {r["email"] for r in wh.query("SELECT email FROM src.contacts")}
    addresses |= {r["owner_email"] for r in wh.query("SELECT owner_email FROM src.accounts")}
    assert addresses and tokens
    leaks = [f"address {a}" for a in addresses if a.lower() in text.lower()]
    leaks += [f"token {t[:12]}..." for t in tokens if t in text]
    leaks += [name for name, value in (("SendGrid API key", API_KEY), ("token secret", secret)) if value in text]
    assert leaks == []
    wh.dispose()
