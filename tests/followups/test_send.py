"""Follow-ups through the one exactly-once ledger, on both warehouses: the outbox, the strict fake
SendGrid server, reruns, a changed answer after the send, a rejected batch, and a worker SIGKILLed
mid-send."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nps.email.outbox import OutboxTransport
from nps.email.sendgrid import SendGridHook
from nps.followups.decide import decide
from nps.followups.send import send_followups
from nps.tokens import TokenSigner
from tests.cohorts.helpers import contact
from tests.followups.helpers import answer, answers, decisions, fconfig, seed
from tests.support.sendgrid_server import DEFAULT_API_KEY as KEY
from tests.support.sendgrid_server import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
SIGNER = TokenSigner("test-secret-not-for-production-0123456789")
NOW = datetime(2026, 10, 7, 12)
ANSWERED = datetime(2026, 10, 7, 9)


def _many(wh, n: int) -> list[str]:
    """n detractor answers (one case each) from n contacts."""
    seed(wh, [(f"S{i:03d}", f"P{i:03d}", "nps", "pl" if i % 5 == 0 else "en") for i in range(n)],
         contacts=[contact(f"P{i:03d}", "A1", locale="pl" if i % 5 == 0 else "en") for i in range(n)])
    answers(wh, [answer(f"S{i:03d}", "nps", i % 11, ANSWERED, comment=f"comment {i}") for i in range(n)])
    return [f"followup/S{i:03d}" for i in range(n)]


def _status(wh) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in wh.query(
        "SELECT status, COUNT(*) AS n FROM ops.followup_decisions GROUP BY status")}


def _ledger(wh) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in wh.query(
        "SELECT status, COUNT(*) AS n FROM ops.message_ledger WHERE kind = 'followup' GROUP BY status")}


def received(sg) -> Counter:
    return Counter(a["send_key"] for a in sg.accepted_custom_args())


def test_outbox_sends_each_follow_up_once(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    keys = _many(warehouse, 22)
    cfg = fconfig()
    decide(warehouse, cfg, NOW, "run1")
    box = OutboxTransport(tmp_path / "outbox")
    res = send_followups(warehouse, cfg, SIGNER, box, now=NOW, run_id="run1", folder="followups_2026-10-07T1200")
    assert res.to_send == 22 and res.ledger["sent"] == 22
    # Scores i % 11 for i = 0..21, Polish when i % 5 == 0: detractors 0-6 (i = 0, 5, 15 Polish),
    # passives 7-8 (i = 7, 8, 18, 19), promoters 9-10 (i = 10, 20 Polish; 9, 21 English).
    assert dict(res.by_template) == {"detractor_apology.en": 11, "detractor_apology.pl": 3, "passive_improve.en": 4,
                                     "promoter_referral.en": 2, "promoter_referral.pl": 2}
    assert _status(warehouse) == {"sent": 22}
    files = sorted(p.name for p in (tmp_path / "outbox" / "followups_2026-10-07T1200").iterdir())
    assert files == sorted(k.replace("/", "_") + ".eml" for k in keys)
    sent_at = decisions(warehouse)["S000"]["sent_at"]
    assert sent_at == NOW and decisions(warehouse)["S000"]["reason"] == "sent"
    # A rerun (a cleared task, the next hour) finds nothing to send.
    decide(warehouse, cfg, NOW + timedelta(hours=1), "run2")
    again = send_followups(warehouse, cfg, SIGNER, box, now=NOW + timedelta(hours=1), run_id="run2", folder="x")
    assert again.to_send == 0 and again.ledger == {}
    assert _ledger(warehouse) == {"sent": 22}


def test_sendgrid_exactly_once_and_no_second_email_after_a_changed_answer(warehouse, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    keys = _many(warehouse, 25)
    cfg = fconfig()
    cfg = cfg.model_copy(update={"dispatch": cfg.dispatch.model_copy(update={"batch_size": 10})})
    decide(warehouse, cfg, NOW, "run1")
    with FakeSendGrid() as sg:
        hook = SendGridHook(KEY, host=sg.url)
        res = send_followups(warehouse, cfg, SIGNER, hook, now=NOW, run_id="run1", folder="f1")
        assert res.ledger["sent"] == 25 and hook.requests == res.batches == 6  # 5 template/locale groups, one split
        first = sg.accepted[0]["personalizations"][0]
        assert first["custom_args"]["send_key"].startswith("followup/")
        # The detractor S002 changes to a promoter after the apology went out: the case takes it, no email.
        answers(warehouse, [answer("S002", "nps", 10, NOW + timedelta(minutes=5))])
        later = NOW + timedelta(hours=1)
        monkeypatch.setenv("NPS_FAKE_NOW", later.isoformat())
        d = decide(warehouse, cfg, later, "run2")
        assert (d.considered, d.changed_after_send, d.cases_updated) == (1, 1, 1)
        again = send_followups(warehouse, cfg, SIGNER, hook, now=later, run_id="run2", folder="f2")
        assert again.to_send == 0 and hook.requests == 6
    assert received(sg) == Counter(keys)
    row = decisions(warehouse)["S002"]
    assert (row["status"], row["template"], row["score"], row["changed_after_send"]) == ("sent", "detractor_apology", 10, 1)
    assert warehouse.scalar("SELECT score FROM ops.followup_cases WHERE case_id = 'C-S002'") == 10


def test_rejected_batch_is_failed_with_the_reason_then_sent_after_the_fix(warehouse, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    _many(warehouse, 3)  # detractors S000 (pl), S001 and S002 (en): the en batch goes first
    cfg = fconfig()
    decide(warehouse, cfg, NOW, "run1")
    with FakeSendGrid() as sg:
        sg.script(400)
        hook = SendGridHook(KEY, host=sg.url)
        res = send_followups(warehouse, cfg, SIGNER, hook, now=NOW, run_id="run1", folder="f1")
        assert (res.ledger["failed"], res.ledger["sent"]) == (2, 1)  # one rejected batch does not stop the next
        assert _status(warehouse) == {"failed": 2, "sent": 1}
        assert decisions(warehouse)["S001"]["reason"].startswith(
            "the email provider rejected it: SendGrid rejected batch followup.detractor_apology.en.000")
        assert "HTTP 400" in decisions(warehouse)["S001"]["reason"]
        decide(warehouse, cfg, NOW + timedelta(hours=1), "run2")   # failed decisions are taken again
        assert _status(warehouse) == {"pending": 2, "sent": 1}
        res2 = send_followups(warehouse, cfg, SIGNER, hook, now=NOW + timedelta(hours=1), run_id="run2", folder="f2")
        assert res2.ledger["sent"] == 2
    assert _status(warehouse) == {"sent": 3}
    assert received(sg) == Counter({"followup/S000": 1, "followup/S001": 1, "followup/S002": 1})


KILLED_WORKER = """
import os, signal, sys
sys.path[:0] = [{root!r}, {plugins!r}]
from datetime import datetime
from nps.email.sendgrid import SendGridHook
from nps.followups.send import send_followups
from nps.tokens import TokenSigner
from nps.warehouse import Warehouse
from tests.followups.helpers import fconfig

class KillAfter:
    name = "sendgrid"
    def __init__(self):
        self.hook, self.calls = SendGridHook({key!r}, host={host!r}), 0
    def send(self, batch):
        msg = self.hook.send(batch)
        self.calls += 1
        if self.calls == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before the ledger update
        return msg

cfg = fconfig()
cfg = cfg.model_copy(update={{"dispatch": cfg.dispatch.model_copy(update={{"batch_size": 5}})}})
send_followups(Warehouse({url!r}), cfg, TokenSigner("test-secret-not-for-production-0123456789"), KillAfter(),
               now=datetime(2026, 10, 7, 12), run_id="run1", folder="f1")
"""


def test_worker_killed_mid_send_then_the_webhook_then_a_rerun(warehouse, tmp_path, monkeypatch):
    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing

    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    seed(warehouse, [(f"S{i:03d}", f"P{i:03d}", "nps", "en") for i in range(15)])
    answers(warehouse, [answer(f"S{i:03d}", "nps", 3, ANSWERED) for i in range(15)])  # 15 detractors: 3 batches of 5
    cfg = fconfig()
    cfg = cfg.model_copy(update={"dispatch": cfg.dispatch.model_copy(update={"batch_size": 5})})
    decide(warehouse, cfg, NOW, "run1")
    lz = Landing(str(tmp_path / "landing"))
    lz.ensure()
    with FakeSendGrid() as sg:
        code = KILLED_WORKER.format(root=str(ROOT), plugins=str(ROOT / "plugins"), host=sg.url, url=warehouse.url, key=KEY)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=os.environ.copy())
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        assert _ledger(warehouse) == {"sent": 5, "sending": 5, "claimed": 5}
        assert _status(warehouse) == {"pending": 15}  # the worker died before the decisions learnt anything
        # SendGrid's webhook reports what it accepted; ingestion loads it; the rerun confirms and sends the rest.
        sg.write_webhook_batch(lz.root, "after-the-kill.json", sg.webhook_events("delivered"))
        [loaded] = ingest_events(warehouse, lz)
        assert loaded.status == "loaded" and loaded.rows_loaded == 10
        later = NOW + timedelta(minutes=20)
        monkeypatch.setenv("NPS_FAKE_NOW", later.isoformat())
        decide(warehouse, cfg, later, "run1")
        res = send_followups(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), now=later, run_id="run1", folder="f1")
        assert (res.ledger["reconciled_sent"], res.ledger["sent"], res.ledger["already_sent"]) == (5, 5, 10)
    assert received(sg) == Counter({f"followup/S{i:03d}": 1 for i in range(15)})
    assert _ledger(warehouse) == {"sent": 15} and _status(warehouse) == {"sent": 15}


def test_dry_run_sends_nothing(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    _many(warehouse, 4)
    cfg = fconfig()
    d = decide(warehouse, cfg, NOW, "run1", dry_run=True)
    assert dict(d.would_send) == {"detractor_apology.en": 3, "detractor_apology.pl": 1}
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.followup_decisions") == 0
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.followup_cases") == 0
    decide(warehouse, cfg, NOW, "run1")
    res = send_followups(warehouse, cfg, SIGNER, None, now=NOW, run_id="run1", folder="f", dry_run=True)
    assert res.to_send == 4 and res.batches == 2
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.message_ledger") == 0


@pytest.mark.parametrize("minutes", [10, 40])
def test_a_follow_up_waits_for_the_answer_to_settle(warehouse, tmp_path, monkeypatch, minutes):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    seed(warehouse, [("S1", "P1", "nps", "en")])
    answers(warehouse, [answer("S1", "nps", 9, NOW - timedelta(minutes=minutes))])
    cfg = fconfig()
    decide(warehouse, cfg, NOW, "run1")
    res = send_followups(warehouse, cfg, SIGNER, OutboxTransport(tmp_path), now=NOW, run_id="run1", folder="f")
    assert res.to_send == (0 if minutes < 30 else 1)
    assert _status(warehouse) == ({"pending": 1} if minutes < 30 else {"sent": 1})
