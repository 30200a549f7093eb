"""The CRM webhook against a loopback server the test starts: HMAC-signed JSON, retries, and
every case event applied once, on both warehouses."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from nps.followups.crm import CrmWebhookClient, post_case_events, sign
from nps.followups.decide import decide
from tests.followups.helpers import answer, answers, fconfig, seed

SECRET = "crm-secret-for-tests-only"
NOW = datetime(2026, 10, 7, 12)


class FakeCrm:
    """Verifies the signature, applies each event key once, and answers what the test scripted
    (a status, or "sleep" to answer too late)."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.applied: Counter = Counter()
        self.script_: list = []
        self.lock = threading.Lock()
        crm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                ts, key = self.headers["X-NPS-Timestamp"], self.headers["X-NPS-Event-Key"]
                good = hmac.compare_digest(self.headers["X-NPS-Signature"], "sha256=" + hmac.new(
                    SECRET.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest())
                with crm.lock:
                    step = crm.script_.pop(0) if crm.script_ else 200
                    crm.requests.append({"key": key, "good": good, "json": json.loads(body), "answer": step})
                    if good and step in (200, "sleep") and not crm.applied[key]:
                        crm.applied[key] = 1  # the CRM deduplicates on the event key
                if step == "sleep":
                    time.sleep(1.5)
                status = 401 if not good else (200 if step == "sleep" else step)
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b'{"error": "no"}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/nps"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, *steps) -> None:
        self.script_.extend(steps)

    def __enter__(self) -> FakeCrm:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def _cases(wh) -> None:
    seed(wh, [("S1", "P1", "nps", "en"), ("S2", "P2", "csat", "en")])
    answers(wh, [answer("S1", "nps", 2, datetime(2026, 10, 7, 9)), answer("S2", "csat", 1, datetime(2026, 10, 7, 9))])
    decide(wh, fconfig(), NOW, "run1")  # two cases, one 'opened' event each


def _client(url, **kw):
    return CrmWebhookClient(url, SECRET, sleep=lambda s: None, clock=lambda: 1_790_000_000, **kw)


def _ledger(wh) -> dict[str, str]:
    return {r["event_key"]: r["status"] for r in wh.query("SELECT event_key, status FROM ops.crm_webhook_events")}


def test_events_are_signed_retried_and_posted_once(warehouse):
    _cases(warehouse)
    with FakeCrm() as crm:
        crm.script(503, 429)  # the first event needs two retries
        client = _client(crm.url)
        res = post_case_events(warehouse, client, now=NOW, run_id="run1")
        assert (res.claimed, res.posted, res.failed) == (2, 2, 0)
        assert (client.requests, client.retries) == (4, 2)
        assert all(r["good"] for r in crm.requests)
        first = crm.requests[-2]["json"]
        assert first == {
            "event_key": "case/C-S1/1", "case_id": "C-S1", "event": "opened", "happened_at": "2026-10-07 12:00:00",
            "from_status": None, "to_status": "open", "detail": "nps answer 2 (detractor); due 2026-10-09 12:00 UTC",
            "case": {"status": "open", "survey_id": "S1", "account_id": "A1", "contact_id": "P1", "owner_name": "Alice",
                     "survey_type": "nps", "score": 2, "category": "detractor", "due_at": "2026-10-09 12:00:00",
                     "escalation_level": 0},
        }
        # A rerun posts nothing again.
        again = post_case_events(warehouse, client, now=NOW, run_id="run2")
        assert (again.claimed, again.posted) == (0, 0) and client.requests == 4
    assert _ledger(warehouse) == {"case/C-S1/1": "sent", "case/C-S2/1": "sent"}
    assert crm.applied == Counter({"case/C-S1/1": 1, "case/C-S2/1": 1})


def test_a_rejected_event_is_recorded_and_a_timeout_is_posted_again_under_its_key(warehouse):
    _cases(warehouse)
    with FakeCrm() as crm:
        crm.script(400)
        res = post_case_events(warehouse, _client(crm.url), now=NOW, run_id="run1")
        assert (res.posted, res.failed) == (1, 1) and res.errors[0].startswith("CRM webhook rejected case/C-S1/1: HTTP 400")
        assert _ledger(warehouse) == {"case/C-S1/1": "failed", "case/C-S2/1": "sent"}
        err = warehouse.scalar("SELECT error FROM ops.crm_webhook_events WHERE event_key = 'case/C-S1/1'")
        assert "HTTP 400" in err
        # After the fix the rerun posts it; this time the CRM answers too late (applied, no answer).
        crm.script("sleep")
        res = post_case_events(warehouse, _client(crm.url, timeout=0.5), now=NOW, run_id="run2")
        assert res.uncertain == 1 and _ledger(warehouse)["case/C-S1/1"] == "sending"
        res = post_case_events(warehouse, _client(crm.url), now=NOW, run_id="run3")
        assert res.posted == 1
    assert _ledger(warehouse) == {"case/C-S1/1": "sent", "case/C-S2/1": "sent"}
    assert [r["key"] for r in crm.requests] == ["case/C-S1/1", "case/C-S2/1", "case/C-S1/1", "case/C-S1/1"]
    assert crm.applied == Counter({"case/C-S1/1": 1, "case/C-S2/1": 1})  # the CRM applied each event once
    assert warehouse.scalar("SELECT attempts FROM ops.crm_webhook_events WHERE event_key = 'case/C-S1/1'") == 3


def test_unreachable_crm_waits_for_the_next_run(warehouse):
    _cases(warehouse)
    client = _client("http://127.0.0.1:1/hooks", max_retries=2)
    res = post_case_events(warehouse, client, now=NOW, run_id="run1")
    assert (res.posted, res.unavailable, client.requests) == (0, 1, 3)
    assert _ledger(warehouse) == {"case/C-S1/1": "pending", "case/C-S2/1": "pending"}


def test_signature():
    assert sign("s", "1790000000", b"{}") == "sha256=" + hmac.new(b"s", b"1790000000.{}", hashlib.sha256).hexdigest()
    with pytest.raises(ValueError, match="must start with https:// or http://"):
        CrmWebhookClient("ftp://x", "s")
    assert "crm-secret" not in repr(CrmWebhookClient("https://crm.example.com/h", SECRET))
