"""The generic exactly-once ledger (``nps.ledger``) on its failure paths, on both warehouses.

Counted where it matters: at the strict SendGrid-compatible server (every accepted message by its
send key) and in ``ops.message_ledger``. Crash evidence goes through production's path: SendGrid
Event Webhook JSON in the landing area, loaded by ``ingest_events``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from nps.dispatch import SendsPending
from nps.email.base import Batch, Recipient
from nps.email.outbox import OutboxTransport
from nps.email.render import MessageTemplate
from nps.email.sendgrid import SendGridHook
from nps.ledger import recipient_hash, send_once
from tests.support.sendgrid_server import DEFAULT_API_KEY as KEY
from tests.support.sendgrid_server import FakeSendGrid

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 10, 6, 6, 5)
SCOPE = "followup/2026-10-05T0600"
GRACE = 60


def batches(n: int, size: int = 10, *, prefix: str = "followup", locale: str = "en") -> list[Batch]:
    """``n`` messages with their own send keys, ``size`` per batch, as a follow-up stage would plan them."""
    tmpl = MessageTemplate(survey_type="followup", locale=locale, subject="Thank you, -name-",
                           text="Hello -name-, thank you.", html="<p>Hello -name-, thank you.</p>")
    out = []
    for b, start in enumerate(range(0, n, size)):
        recips = [Recipient(send_key=f"{prefix}/S{i:05d}", survey_id=f"S{i:05d}", email=f"p{i}@example.com",
                            name=f"P {i}", substitutions={"-name-": f"P {i}"}) for i in range(start, min(n, start + size))]
        out.append(Batch(batch_id=f"{prefix}.{b:03d}", template=tmpl, recipients=recips, folder="followups_2026-10-05",
                         sender_name="CX", sender_email="cx@example.com", categories=["nps-followup", locale]))
    return out


def statuses(wh) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in wh.query("SELECT status, COUNT(*) AS n FROM ops.message_ledger GROUP BY status")}


def received(sg: FakeSendGrid) -> Counter:
    return Counter(a["send_key"] for a in sg.accepted_custom_args())


def pin(monkeypatch, when: datetime) -> None:
    monkeypatch.setenv("NPS_FAKE_NOW", when.isoformat())


def send(wh, sg, bs, run_id="r1", **kw):
    return send_once(wh, bs, SendGridHook(KEY, host=sg.url, max_retries=0), scope=SCOPE, kind="followup",
                     run_id=run_id, grace_minutes=GRACE, **kw)


def test_each_key_once_and_a_rerun_sends_nothing(warehouse, monkeypatch):
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        first = send(warehouse, sg, batches(25))
        again = send(warehouse, sg, batches(25), run_id="r2")
        more = send(warehouse, sg, batches(30), run_id="r3")  # five new answers since
    assert (first.claimed, first.sent, first.batches, first.already_sent) == (25, 25, 3, 0)
    assert (again.claimed, again.sent, again.batches, again.already_sent) == (0, 0, 0, 25)
    assert (more.claimed, more.sent, more.batches, more.already_sent) == (5, 5, 1, 25)
    assert len(sg.requests) == 4 and received(sg) == Counter(f"followup/S{i:05d}" for i in range(30))
    assert statuses(warehouse) == {"sent": 30}
    row = warehouse.query("SELECT kind, scope, recipient_hash, run_id, attempts, sends, transport, folder, message_id "
                          "FROM ops.message_ledger WHERE send_key = 'followup/S00007'")[0]
    assert row == {"kind": "followup", "scope": SCOPE, "recipient_hash": recipient_hash("P7@Example.com "),
                   "run_id": "r1", "attempts": 1, "sends": 1, "transport": "sendgrid",
                   "folder": "followups_2026-10-05", "message_id": sg.message_ids[0]}


def test_resend_sends_once_more_per_run(warehouse, monkeypatch):
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        send(warehouse, sg, batches(12))
        forced = send(warehouse, sg, batches(12), run_id="manual__resend", resend=True)
        retry = send(warehouse, sg, batches(12), run_id="manual__resend", resend=True)  # the same run, retried
    assert (forced.sent, forced.already_sent, retry.sent, retry.already_sent) == (12, 0, 0, 12)
    assert received(sg) == Counter({f"followup/S{i:05d}": 2 for i in range(12)})
    assert {r["sends"] for r in warehouse.query("SELECT sends FROM ops.message_ledger")} == {2}


def test_throttled_batch_is_claimed_again_and_rejected_batch_fails_until_fixed(warehouse, monkeypatch):
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        sg.script(202, 429)  # batch 1 accepted, batch 2 throttled, batch 3 accepted
        first = send(warehouse, sg, batches(30))
        assert (first.sent, first.failed, len(first.errors)) == (20, 0, 1)
        assert statuses(warehouse) == {"sent": 20, "claimed": 10}
        sg.script(400)  # the retry's request is rejected: a payload error
        second = send(warehouse, sg, batches(30), run_id="r1")
        assert (second.sent, second.failed, second.already_sent) == (0, 10, 20)
        assert statuses(warehouse) == {"sent": 20, "failed": 10}
        fixed = send(warehouse, sg, batches(30), run_id="r1")  # after the fix, a rerun sends the failed ones
    assert (fixed.claimed, fixed.sent, fixed.already_sent) == (10, 10, 20)
    assert statuses(warehouse) == {"sent": 30} and received(sg) == Counter(f"followup/S{i:05d}" for i in range(30))


KILLED_WORKER = """
import os, signal, sys
sys.path[:0] = [{root!r}, {plugins!r}]
from nps.email.sendgrid import SendGridHook
from nps.ledger import send_once
from nps.warehouse import Warehouse
from tests.ledger.test_ledger import batches

class KillAfter:
    name = "sendgrid"
    def __init__(self):
        self.hook, self.calls = SendGridHook({key!r}, host={host!r}, max_retries=0), 0
    def send(self, batch):
        msg = self.hook.send(batch)
        self.calls += 1
        if self.calls == 2:
            os.kill(os.getpid(), signal.SIGKILL)  # the worker dies after the provider accepted, before the ledger update
        return msg

send_once(Warehouse({url!r}), batches(30), KillAfter(), scope={scope!r}, kind="followup", run_id="r1", grace_minutes=60)
"""


def _kill(warehouse, sg) -> None:
    code = KILLED_WORKER.format(root=str(ROOT), plugins=str(ROOT / "plugins"), host=sg.url, url=warehouse.url, key=KEY,
                                scope=SCOPE)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=os.environ.copy())
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    assert statuses(warehouse) == {"sent": 10, "sending": 10, "claimed": 10}


def test_sigkill_mid_send_then_evidence_then_rerun(warehouse, monkeypatch, tmp_path):
    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing

    pin(monkeypatch, T0)
    landing = Landing(str(tmp_path / "landing"))
    landing.ensure()
    with FakeSendGrid() as sg:
        _kill(warehouse, sg)
        # Within the grace period with no evidence: the claimed ones go out, the uncertain ones wait.
        pin(monkeypatch, T0 + timedelta(minutes=5))
        with pytest.raises(SendsPending) as waiting:
            send(warehouse, sg, batches(30))
        assert (waiting.value.waiting, waiting.value.sent) == (10, 10)
        assert waiting.value.retry_after == timedelta(minutes=15)
        # SendGrid's webhook proves the killed worker's second batch was accepted.
        sg.write_webhook_batch(landing.root, "after-the-kill.json", sg.webhook_events("delivered"))
        [r] = ingest_events(warehouse, landing)
        assert r.status == "loaded", r.reason
        pin(monkeypatch, T0 + timedelta(minutes=20))
        done = send(warehouse, sg, batches(30))
    assert (done.reconciled_sent, done.requeued, done.sent, done.already_sent) == (10, 0, 0, 30)
    assert statuses(warehouse) == {"sent": 30}
    assert received(sg) == Counter(f"followup/S{i:05d}" for i in range(30))
    ids = warehouse.query("SELECT message_id AS m, COUNT(*) AS n FROM ops.message_ledger GROUP BY message_id ORDER BY message_id")
    assert ids == [{"m": m, "n": 10} for m in sorted(sg.message_ids)]


def test_sigkill_without_evidence_resends_after_the_grace_period(warehouse, monkeypatch):
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        _kill(warehouse, sg)
        pin(monkeypatch, T0 + timedelta(minutes=GRACE, seconds=1))  # no webhook ever came
        done = send(warehouse, sg, batches(30))
    assert (done.reconciled_sent, done.requeued, done.sent) == (0, 10, 20)
    assert statuses(warehouse) == {"sent": 30}
    # The uncertain batch was in fact accepted once before the kill: it is the one resend the
    # grace period trades for never losing a message, and it is counted.
    counts = received(sg)
    assert sum(counts.values()) == 40 and sorted(set(counts.values())) == [1, 2]


def test_outbox_evidence_confirms_a_killed_send(warehouse, monkeypatch, tmp_path):
    pin(monkeypatch, T0)
    outbox = OutboxTransport(tmp_path / "outbox")

    class DieAfterWrite:
        name = "outbox"
        root = outbox.root

        def send(self, batch):
            outbox.send(batch)
            raise KeyboardInterrupt("killed after the files were written")

        def delivered(self, folder, keys):
            return outbox.delivered(folder, keys)

    with pytest.raises(KeyboardInterrupt):
        send_once(warehouse, batches(5), DieAfterWrite(), scope=SCOPE, kind="followup", run_id="r1")
    assert statuses(warehouse) == {"sending": 5}
    done = send_once(warehouse, batches(5), outbox, scope=SCOPE, kind="followup", run_id="r1")
    assert (done.reconciled_sent, done.sent, done.already_sent) == (5, 0, 5)
    assert len(list((tmp_path / "outbox" / "followups_2026-10-05").glob("*.eml"))) == 5


def test_a_second_attempt_waits_for_the_scope_lock(warehouse, monkeypatch):
    pin(monkeypatch, T0)
    release = threading.Event()

    class Slow:
        name = "sendgrid"

        def __init__(self, inner):
            self.inner = inner

        def send(self, batch):
            release.wait(30)
            return self.inner.send(batch)

    outcome = {}
    with FakeSendGrid() as sg:
        def second():
            try:
                send_once(warehouse, batches(10), SendGridHook(KEY, host=sg.url), scope=SCOPE, kind="followup",
                          run_id="r2", lock_wait_seconds=0.5)
            except SendsPending as err:
                outcome["busy"] = err
            release.set()

        t = threading.Thread(target=lambda: (threading.Event().wait(0.3), second()))
        t.start()
        first = send_once(warehouse, batches(10), Slow(SendGridHook(KEY, host=sg.url)), scope=SCOPE, kind="followup",
                          run_id="r1")
        t.join(60)
    assert first.sent == 10 and "another attempt is sending" in str(outcome["busy"])
    assert received(sg) == Counter(f"followup/S{i:05d}" for i in range(10))


def test_a_key_twice_in_one_call_is_refused(warehouse):
    bs = batches(3)
    bs.append(Batch(**{**bs[0].__dict__, "batch_id": "dup"}))
    with pytest.raises(ValueError, match="appears twice"):
        send_once(warehouse, bs, OutboxTransport("/nonexistent"), scope=SCOPE, kind="followup", run_id="r1")
    assert statuses(warehouse) == {}
