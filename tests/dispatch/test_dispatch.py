"""Dispatch: ledger states, batching, failures and exactly-once on the failure paths, on both warehouses.

Every crash test goes through what production uses for evidence: SendGrid Event Webhook JSON in
the landing area, loaded by ``ingest_events``, then a rerun. The clock is pinned (``NPS_FAKE_NOW``)
so the grace period's boundary is tested to the minute.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from nps.dispatch import DispatchFailed, IntervalBusy, SendsPending, dispatch_invitations
from nps.email.outbox import OutboxTransport
from nps.email.sendgrid import SendGridHook
from nps.email.smtp import SmtpTransport
from nps.tokens import TokenSigner
from tests.cohorts.helpers import account, config, contact, load
from tests.support.sendgrid_server import DEFAULT_API_KEY as KEY
from tests.support.sendgrid_server import FakeSendGrid
from tests.support.smtp_server import SmtpSink

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 10, 5, 6)
T0 = datetime(2026, 10, 6, 6, 5)  # when the first attempt runs (pinned clock)
SIGNER = TokenSigner("test-secret-not-for-production-0123456789")
SMALL = {"batch_size": 10}


def seed_cohort(wh, n_en: int, n_pl: int = 0) -> list[str]:
    """A selected cohort of relationship NPS invitations (the cohort step's output), by hand."""
    contacts, cands = [], []
    for i in range(n_en + n_pl):
        cid = f"P{i:05d}"
        locale = "en" if i < n_en else "pl"
        contacts.append(contact(cid, "A1", locale=locale, first="Zoë" if locale == "pl" else "Jo"))
        key = f"relationship/nps/2026-Q4/{cid}"
        cands.append({"interval_start": START, "interval_end": datetime(2026, 10, 6, 6), "run_id": "r", "send_key": key,
                      "survey_id": f"S{i:05d}", "program": "relationship", "survey_type": "nps", "touchpoint": None,
                      "touchpoint_event_id": None, "contact_id": cid, "account_id": "A1", "industry": "SaaS",
                      "role": "user", "locale": locale, "cycle": "2026-Q4", "cycle_start": date(2026, 10, 1),
                      "cycle_end": date(2027, 1, 1), "cohort_date": date(2026, 10, 5), "reason": "selected"})
    load(wh, "src.accounts", [account("A1", name="Smith & Sons")])
    load(wh, "src.contacts", contacts)
    load(wh, "ops.cohort_candidates", cands)
    return [c["send_key"] for c in cands]


def statuses(wh) -> dict[str, int]:
    return {r["status"]: int(r["n"]) for r in wh.query("SELECT status, COUNT(*) AS n FROM ops.survey_invitations GROUP BY status")}


def received(sg: FakeSendGrid) -> Counter:
    return Counter(a["send_key"] for a in sg.accepted_custom_args())


def pin(monkeypatch, when: datetime) -> None:
    monkeypatch.setenv("NPS_FAKE_NOW", when.isoformat())


@pytest.fixture
def landing(tmp_path):
    from nps.ingest.landing import Landing

    lz = Landing(str(tmp_path / "landing"))
    lz.ensure()
    return lz


def webhook(sg: FakeSendGrid, wh, landing, name: str, event: str = "processed") -> int:
    """SendGrid posts its events; the landing area receives the batch; ingestion loads it."""
    from nps.ingest.events import ingest_events

    sg.write_webhook_batch(landing.root, name, sg.webhook_events(event))
    [r] = ingest_events(wh, landing)
    assert r.status == "loaded", r.reason
    return r.rows_loaded


class CrashAfter:
    """A transport that dies (like a killed worker) right after the server accepted batch ``n``."""

    def __init__(self, inner, n: int) -> None:
        self.inner, self.n, self.calls, self.name = inner, n, 0, inner.name

    def send(self, batch):
        msg = self.inner.send(batch)
        self.calls += 1
        if self.calls == self.n:
            raise KeyboardInterrupt("worker killed after the provider accepted the batch")
        return msg


def test_sendgrid_batches_exactly_once(warehouse):
    keys = seed_cohort(warehouse, 2100, 5)
    with FakeSendGrid() as sg:
        hook = SendGridHook(KEY, host=sg.url)
        res = dispatch_invitations(warehouse, config(), SIGNER, hook, START, "scheduled__1")
        # ceil(2100 / 1000) + ceil(5 / 1000) requests, never one per email
        assert (res.claimed, res.sent, res.batches, hook.requests) == (2105, 2105, 4, 4)
        assert [len(b["personalizations"]) for b in sg.accepted] == [1000, 1000, 100, 5]
        assert received(sg) == Counter(keys)
        pl = sg.accepted[3]
        assert pl["subject"] == "Czy polecisz Acme CS?" and pl["categories"] == ["nps-invitation", "nps", "pl"]
        p = pl["personalizations"][0]
        assert p["custom_args"] == {"survey_id": "S02100", "send_key": "relationship/nps/2026-Q4/P02100"}
        assert p["substitutions"]["%nps_company_html%"] == "Smith &amp; Sons" and p["to"][0]["name"] == "Zoë P02100"
        # One answer-less token per invitation (the answer links add &score=N), nothing else signed.
        assert sorted(p["substitutions"]) == ["%nps_company%", "%nps_company_html%", "%nps_name%", "%nps_name_html%",
                                              "%nps_token%"]
        tok = SIGNER.verify(p["substitutions"]["%nps_token%"])
        assert (tok.survey_id, tok.survey_type, tok.answer, tok.locale) == ("S02100", "nps", None, "pl")
        assert pl["content"][1]["value"].count("?t=%nps_token%&amp;score=") == 11
        assert "?t=%nps_token%&score=10\n" in pl["content"][0]["value"]
        # A retried or cleared task sends nothing again.
        again = dispatch_invitations(warehouse, config(), SIGNER, hook, START, "manual__2")
        assert (again.claimed, again.sent, hook.requests) == (0, 0, 4)
    assert statuses(warehouse) == {"sent": 2105}
    row = warehouse.query("SELECT * FROM ops.survey_invitations WHERE send_key = :k", {"k": keys[0]})[0]
    assert (row["transport"], row["provider_message_id"], row["run_id"], row["attempts"]) == ("sendgrid", "msg-00001", "scheduled__1", 1)
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.dispatch_batches") == 0  # each attempt drops its plan


class LedgerAtEachRequest:
    """A transport that reads the committed ledger (its own connection) as each request goes out."""

    def __init__(self, inner, wh) -> None:
        self.inner, self.wh, self.name, self.seen = inner, wh, inner.name, []
        self.commits = 0

    def send(self, batch):
        keys = [r.send_key for r in batch.recipients]
        own = self._own(keys)
        batches = int(self.wh.scalar("SELECT COUNT(DISTINCT batch_id) FROM ops.survey_invitations WHERE status = 'sending'"))
        self.seen.append((len(keys), own, statuses(self.wh), batches))
        return self.inner.send(batch)

    def _own(self, keys: list[str]) -> dict[str, int]:
        """The committed statuses of this request's rows."""
        rows = self.wh.query("SELECT send_key, status FROM ops.survey_invitations")
        mine = set(keys)
        return dict(Counter(r["status"] for r in rows if r["send_key"] in mine))


def test_each_request_goes_out_after_its_rows_were_committed_sending_one_commit_per_request(warehouse):
    """As each request leaves, all its rows are committed sending; at most two batches are sending
    at any time (the one on the wire and the one handed over next, or the one accepted before it,
    not yet recorded); and each request costs one commit, which records the previous batch sent."""
    import sqlalchemy as sa

    seed_cohort(warehouse, 2100, 5)
    commits = {"n": 0}

    def count(conn) -> None:  # noqa: ANN001
        commits["n"] += 1

    with FakeSendGrid() as sg:
        spy = LedgerAtEachRequest(SendGridHook(KEY, host=sg.url), warehouse)
        sa.event.listen(warehouse.engine, "commit", count)
        try:
            res = dispatch_invitations(warehouse, config(), SIGNER, spy, START, "scheduled__1")
            per_call = commits["n"]
        finally:
            sa.event.remove(warehouse.engine, "commit", count)
    assert (res.sent, res.batches) == (2105, 4)
    sizes = [1000, 1000, 100, 5]
    assert [(n, own) for n, own, _, _ in spy.seen] == [(n, {"sending": n}) for n in sizes]
    for k, (_, _, st, batches) in enumerate(spy.seen):
        # Request k leaves with batch k-1 accepted (recorded sent, or not yet) and batch k+1
        # committed sending (or not yet): one of two states, never more than two batches sending.
        before = {"sent": sum(sizes[:k - 1]), "sending": sum(sizes[max(0, k - 1):k + 1])}
        after = {"sent": sum(sizes[:k]), "sending": sum(sizes[k:k + 2])}
        allowed = [{s: n for s, n in {**d, "claimed": 2105 - d["sent"] - d["sending"]}.items() if n}
                   for d in (before, after)]
        assert st in allowed, (k, st)
        assert batches <= 2
    # The claim, the plan and its drop (3; on PostgreSQL also taking and releasing the advisory
    # lock, 2) and, per request, one: its batch committed sending together with the previous batch
    # recorded sent; plus the last batch recorded sent on its own.
    lock = 2 if warehouse.dialect == "postgresql" else 0
    assert per_call == lock + 3 + len(sizes) + 1
    assert statuses(warehouse) == {"sent": 2105}


def test_400_fails_the_batch_then_a_rerun_after_the_fix_sends_the_rest(warehouse):
    keys = seed_cohort(warehouse, 2500)
    with FakeSendGrid() as sg:
        sg.script(202, 400)
        hook = SendGridHook(KEY, host=sg.url)
        with pytest.raises(DispatchFailed, match=r"1000 invitations failed: SendGrid rejected batch 2026-10-05T0600\.\w+\.00001 "):
            dispatch_invitations(warehouse, config(), SIGNER, hook, START, "r1")
        assert statuses(warehouse) == {"sent": 1000, "failed": 1000, "claimed": 500}
        err = warehouse.scalar("SELECT MAX(error) FROM ops.survey_invitations WHERE status = 'failed'")
        assert "HTTP 400: -: simulated HTTP 400" in err
        assert len(sg.requests) == 2  # a 4xx is never retried
        # Batch 3 was committed sending while batch 2 was on the wire, never sent: handed back to
        # claimed, with its attempt taken back.
        back = warehouse.query("SELECT attempts, error, COUNT(*) AS n FROM ops.survey_invitations "
                               "WHERE status = 'claimed' GROUP BY attempts, error")
        assert back == [{"attempts": 0, "error": None, "n": 500}]
        assert not set(received(sg)) & set(keys[2000:])
        res = dispatch_invitations(warehouse, config(), SIGNER, hook, START, "r2")  # cleared after the fix
        assert res.sent == 1500
    assert statuses(warehouse) == {"sent": 2500}
    assert received(sg) == Counter(keys)


def test_wrong_api_key_fails_without_retries(warehouse):
    seed_cohort(warehouse, 5)
    with FakeSendGrid() as sg:
        with pytest.raises(DispatchFailed, match="HTTP 401: -: The provided authorization grant is invalid"):
            dispatch_invitations(warehouse, config(), SIGNER, SendGridHook("SG.wrong", host=sg.url), START, "r1")
        assert [r["status"] for r in sg.requests] == [401] and sg.accepted == []
    assert statuses(warehouse) == {"failed": 5}


def test_crash_after_acceptance_is_confirmed_through_the_event_webhook(warehouse, landing, monkeypatch):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        with pytest.raises(KeyboardInterrupt):
            dispatch_invitations(warehouse, cfg, SIGNER, CrashAfter(SendGridHook(KEY, host=sg.url), 2), START, "r1")
        assert statuses(warehouse) == {"sent": 10, "sending": 10, "claimed": 10}
        # Rerun inside the grace period, before any evidence: the uncertain batch waits, the rest goes,
        # and the attempt asks to be run again at the next evidence poll.
        pin(monkeypatch, T0 + timedelta(minutes=5))
        with pytest.raises(SendsPending) as pending:
            dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START, "r2")
        assert (pending.value.waiting, pending.value.sent, pending.value.retry_after) == (10, 10, timedelta(minutes=15))
        assert statuses(warehouse) == {"sent": 20, "sending": 10}
        # SendGrid posts 'processed' for all 30 accepted messages; ingestion loads the batch.
        assert webhook(sg, warehouse, landing, "2026-10-06T0615.json") == 30
        pin(monkeypatch, T0 + timedelta(minutes=20))
        res = dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START, "r3")
        assert (res.reconciled_sent, res.requeued, res.sent) == (10, 0, 0)
    assert statuses(warehouse) == {"sent": 30}
    assert received(sg) == Counter(keys)  # every selected contact: exactly one invitation at the server
    # The provider message id of the confirmed rows comes from the events (request 2's X-Message-Id).
    ids = warehouse.query("SELECT provider_message_id AS m, COUNT(*) AS n FROM ops.survey_invitations "
                          "GROUP BY provider_message_id ORDER BY provider_message_id")
    assert ids == [{"m": "msg-00001", "n": 10}, {"m": "msg-00002", "n": 10}, {"m": "msg-00003", "n": 10}]


@pytest.mark.parametrize(
    ("minutes", "evidence", "resent"),
    [
        pytest.param(59, True, 0, id="evidence-59-min"),
        pytest.param(61, True, 0, id="evidence-61-min-late-evidence-still-wins"),
        pytest.param(59, False, None, id="no-evidence-59-min-waits"),
        pytest.param(61, False, 10, id="no-evidence-61-min-resent"),
    ],
)
def test_evidence_around_the_grace_period(warehouse, landing, monkeypatch, minutes, evidence, resent):
    """Grace 60 min: evidence decides whenever it comes; without it the batch is resent after 60 min, not before."""
    keys = seed_cohort(warehouse, 20)
    cfg = config(dispatch=SMALL)
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        with pytest.raises(KeyboardInterrupt):
            dispatch_invitations(warehouse, cfg, SIGNER, CrashAfter(SendGridHook(KEY, host=sg.url), 2), START, "r1")
        crashed = [p["custom_args"]["send_key"] for p in sg.accepted[1]["personalizations"]]
        if evidence:
            assert webhook(sg, warehouse, landing, "late.json", event="delivered") == 20
        pin(monkeypatch, T0 + timedelta(minutes=minutes))
        hook = SendGridHook(KEY, host=sg.url)
        if resent is None:
            with pytest.raises(SendsPending) as pending:
                dispatch_invitations(warehouse, cfg, SIGNER, hook, START, "r2")
            # Look again one second after the grace period ends (60 min after the crashed attempt).
            assert pending.value.retry_after == timedelta(minutes=1, seconds=1)
            assert (hook.requests, statuses(warehouse)) == (0, {"sent": 10, "sending": 10})
            # The rescheduled attempt, at that time, finishes on its own.
            pin(monkeypatch, T0 + timedelta(minutes=minutes) + pending.value.retry_after)
            res = dispatch_invitations(warehouse, cfg, SIGNER, hook, START, "r2")
            assert (res.requeued, res.sent) == (10, 10)
            resent = 10
        else:
            res = dispatch_invitations(warehouse, cfg, SIGNER, hook, START, "r2")
            assert (res.reconciled_sent, res.requeued, res.sent) == ((10, 0, 0) if evidence else (0, 10, 10))
    assert statuses(warehouse) == {"sent": 20}
    # Without evidence a batch that was in fact accepted goes out twice (documented: the grace
    # period must exceed the webhook's delay); with evidence, never.
    assert received(sg) == Counter(keys) + Counter(crashed if resent else [])


def test_connection_dropped_after_acceptance_waits_for_the_webhook(warehouse, landing, monkeypatch):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        sg.script(202, "drop")
        with pytest.raises(SendsPending, match="closed before an answer") as pending:
            dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START, "r1")
        assert (pending.value.waiting, pending.value.sent) == (10, 10)
        assert statuses(warehouse) == {"sent": 10, "sending": 10, "claimed": 10}
        assert webhook(sg, warehouse, landing, "a.json") == 20
        res = dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START, "r2")
        assert (res.reconciled_sent, res.sent) == (10, 10)
    assert received(sg) == Counter(keys)


def test_throttled_without_headers_then_accepted(warehouse):
    keys = seed_cohort(warehouse, 15)
    sleeps: list[float] = []
    with FakeSendGrid() as sg:
        sg.script(429, 503, 202, ("sleep", 0.2))
        hook = SendGridHook(KEY, host=sg.url, sleep=sleeps.append, timeout=5)
        res = dispatch_invitations(warehouse, config(dispatch=SMALL), SIGNER, hook, START, "r1")
    assert (res.sent, hook.requests, sleeps) == (15, 4, [1.0, 2.0])  # no Retry-After: exponential backoff
    assert received(sg) == Counter(keys)


def test_outbox_crash_is_reconciled_from_the_files(warehouse, tmp_path):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch={"batch_size": 10})
    written: list[str] = []

    class Counting(OutboxTransport):
        def send(self, batch):
            written.extend(r.send_key for r in batch.recipients)
            return super().send(batch)

    with pytest.raises(KeyboardInterrupt):
        dispatch_invitations(warehouse, cfg, SIGNER, CrashAfter(Counting(tmp_path), 2), START, "r1")
    assert statuses(warehouse) == {"sent": 10, "sending": 10, "claimed": 10}
    res = dispatch_invitations(warehouse, cfg, SIGNER, Counting(tmp_path), START, "r2")
    assert (res.reconciled_sent, res.sent) == (10, 10)
    assert Counter(written) == Counter(keys)
    assert len(list((tmp_path / "2026-10-05T0600").glob("*.eml"))) == 30


def test_smtp_uncertain_batch_is_resent_after_the_grace_period_and_only_then(warehouse, monkeypatch):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    pin(monkeypatch, T0)
    with SmtpSink(drop_after=14) as smtp:  # the 4th message of batch 2 is delivered, then the line dies
        transport = SmtpTransport("127.0.0.1", smtp.port, timeout=5)
        with pytest.raises(SendsPending, match="SMTP failed after 3 messages"):
            dispatch_invitations(warehouse, cfg, SIGNER, transport, START, "r1")
        second = smtp.send_keys()[10:14]
        assert statuses(warehouse) == {"sent": 10, "sending": 10, "claimed": 10}
        smtp.drop_after = None
        pin(monkeypatch, T0 + timedelta(minutes=59))
        with pytest.raises(SendsPending) as pending:
            dispatch_invitations(warehouse, cfg, SIGNER, transport, START, "r2")
        assert pending.value.retry_after == timedelta(minutes=1, seconds=1)
        assert len(smtp.messages) == 24  # batch 3 went; the uncertain batch 2 did not
        pin(monkeypatch, T0 + timedelta(minutes=61))
        res = dispatch_invitations(warehouse, cfg, SIGNER, transport, START, "r3")
        assert (res.requeued, res.sent) == (10, 10)
        # SMTP leaves no evidence: the 4 messages delivered before the line died arrive twice.
        assert Counter(smtp.send_keys()) == Counter(keys) + Counter(second)
    assert statuses(warehouse) == {"sent": 30}


def wait_for(wh, status: str, n: int, timeout: float = 30.0) -> None:
    """Wait until ``n`` ledger rows are committed ``status`` (the dispatching thread hands the next
    batch over while a request is on the wire)."""
    import time

    deadline = time.monotonic() + timeout
    while int(wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = :s", {"s": status})) < n:
        assert time.monotonic() < deadline, f"never {n} rows {status}"
        time.sleep(0.01)


class Interleave:
    """Sends through ``inner``; right after the server accepted batch ``n`` (and the next batch was
    committed sending beside it), before the answer is back in the ledger, runs ``during()``: a
    second attempt of the same interval."""

    def __init__(self, inner, n: int, during, wh=None, sending: int = 0) -> None:
        self.inner, self.n, self.during, self.calls, self.name = inner, n, during, 0, inner.name
        self.wh, self.sending = wh, sending

    def send(self, batch):
        msg = self.inner.send(batch)
        self.calls += 1
        if self.calls == self.n:
            if self.wh is not None:
                wait_for(self.wh, "sending", self.sending)
            self.during()
        return msg


def _second_attempt(warehouse, cfg, sg, outcome: dict, **kw):
    def run():
        try:
            outcome["result"] = dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START,
                                                     "manual__2", **kw)
        except SendsPending as err:
            outcome["pending"] = err
        outcome["plan_rows"] = warehouse.scalar(
            "SELECT COUNT(*) FROM ops.dispatch_batches WHERE batch_id LIKE "
            "(SELECT MIN(batch_id) FROM ops.survey_invitations WHERE status = 'sending')")
    return run


def test_overlapping_attempt_without_the_lock_sends_only_rows_it_owns(warehouse, monkeypatch):
    """Row ownership on its own (the interval lock switched off): a second attempt runs while the
    first has batch 1 on the wire and batch 2 committed sending; each key reaches the server once
    and both reports are true."""
    import nps.dispatch

    monkeypatch.setattr(nps.dispatch, "interval_lock", lambda *a, **k: contextlib.nullcontext())
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    outcome: dict = {}
    with FakeSendGrid() as sg:
        first = Interleave(SendGridHook(KEY, host=sg.url), 1, None, warehouse, sending=20)
        first.during = _second_attempt(warehouse, cfg, sg, outcome)
        a = dispatch_invitations(warehouse, cfg, SIGNER, first, START, "scheduled__1")
    b = outcome["pending"]
    # The second attempt sent batch 3 (still claimed), saw batches 1 and 2 sending and waits for them.
    assert (b.sent, b.waiting) == (10, 20)
    # It left the first attempt's plan alone (batches 1 and 2 still sending; the first batch id's rows).
    assert outcome["plan_rows"] == 10
    # The first attempt sent batches 1 and 2 and skipped the rows the second took: its report says so.
    assert (a.sent, a.batches) == (20, 2)
    assert received(sg) == Counter(keys)
    assert statuses(warehouse) == {"sent": 30}


def test_overlapping_attempt_with_the_lock_exits_without_sending(warehouse):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    outcome: dict = {}
    with FakeSendGrid() as sg:
        first = Interleave(SendGridHook(KEY, host=sg.url), 1, None)
        first.during = _second_attempt(warehouse, cfg, sg, outcome, lock_wait_seconds=0.5)
        a = dispatch_invitations(warehouse, cfg, SIGNER, first, START, "scheduled__1")
    b = outcome["pending"]
    assert isinstance(b, IntervalBusy) and (b.sent, b.retry_after) == (0, timedelta(minutes=5))
    assert (a.claimed, a.sent, a.batches) == (30, 30, 3)
    assert len(sg.requests) == 3 and received(sg) == Counter(keys)


def test_overlapping_attempt_waits_for_the_lock_then_finds_nothing_to_send(warehouse):
    keys = seed_cohort(warehouse, 30)
    cfg = config(dispatch=SMALL)
    on_the_wire, release = threading.Event(), threading.Event()
    outcome: dict = {}

    class Slow:
        name = "sendgrid"

        def __init__(self, inner):
            self.inner = inner

        def send(self, batch):
            msg = self.inner.send(batch)
            on_the_wire.set()
            release.wait(30)
            return msg

    with FakeSendGrid() as sg:
        def second():
            on_the_wire.wait(30)
            threading.Timer(1.0, release.set).start()  # the first attempt finishes while the second waits
            outcome["result"] = dispatch_invitations(warehouse, cfg, SIGNER, SendGridHook(KEY, host=sg.url), START,
                                                     "manual__2", lock_wait_seconds=30)

        t = threading.Thread(target=second)
        t.start()
        a = dispatch_invitations(warehouse, cfg, SIGNER, Slow(SendGridHook(KEY, host=sg.url)), START, "scheduled__1")
        t.join(60)
    b = outcome["result"]
    assert (a.sent, b.claimed, b.sent, b.reconciled_sent) == (30, 0, 0, 0)
    assert received(sg) == Counter(keys)


KILLED_WORKER = """
import os, signal, sys
sys.path[:0] = [{root!r}, {plugins!r}]
from datetime import datetime
from nps.dispatch import dispatch_invitations
from nps.email.sendgrid import SendGridHook
from nps.tokens import TokenSigner
from nps.warehouse import Warehouse
from tests.cohorts.helpers import config

from tests.dispatch.test_dispatch import wait_for

class KillAfter:
    name = "sendgrid"
    def __init__(self, wh):
        self.hook, self.calls, self.wh = SendGridHook({key!r}, host={host!r}), 0, wh
    def send(self, batch):
        msg = self.hook.send(batch)
        self.calls += 1
        if self.calls == 2:
            # The worst moment: batch 3 is committed sending (batch 1 recorded sent with it) and
            # batch 2 was accepted; the worker dies before the ledger knows.
            wait_for(self.wh, "sent", 10)
            os.kill(os.getpid(), signal.SIGKILL)
        return msg

wh = Warehouse({url!r})
dispatch_invitations(wh, config(dispatch={{"batch_size": 10}}),
                     TokenSigner("test-secret-not-for-production-0123456789"), KillAfter(wh), datetime(2026, 10, 5, 6), "r1")
"""


def test_worker_killed_by_signal_then_the_webhook_then_a_rerun(warehouse, landing, monkeypatch):
    keys = seed_cohort(warehouse, 30)
    pin(monkeypatch, T0)
    with FakeSendGrid() as sg:
        code = KILLED_WORKER.format(root=str(ROOT), plugins=str(ROOT / "plugins"), host=sg.url, url=warehouse.url, key=KEY)
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120, env=os.environ.copy())
        assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
        # Two batches uncertain: batch 2 (accepted) and batch 3 (committed sending, never sent).
        assert statuses(warehouse) == {"sent": 10, "sending": 20}
        assert len(sg.accepted) == 2
        assert webhook(sg, warehouse, landing, "after-the-kill.json", event="delivered") == 20
        pin(monkeypatch, T0 + timedelta(minutes=30))
        hook = SendGridHook(KEY, host=sg.url)
        # Batch 2 is confirmed by its events; batch 3 has none: it waits out the grace period.
        with pytest.raises(SendsPending) as pending:
            dispatch_invitations(warehouse, config(dispatch=SMALL), SIGNER, hook, START, "r2")
        assert (pending.value.waiting, pending.value.sent, hook.requests) == (10, 0, 0)
        assert statuses(warehouse) == {"sent": 20, "sending": 10}
        pin(monkeypatch, T0 + timedelta(minutes=61))
        res = dispatch_invitations(warehouse, config(dispatch=SMALL), SIGNER, hook, START, "r2")
        assert (res.reconciled_sent, res.requeued, res.sent, hook.requests) == (0, 10, 10, 1)
    assert statuses(warehouse) == {"sent": 30}
    assert received(sg) == Counter(keys)
    ids = warehouse.query("SELECT provider_message_id AS m, COUNT(*) AS n FROM ops.survey_invitations "
                          "GROUP BY provider_message_id ORDER BY provider_message_id")
    assert ids == [{"m": "msg-00001", "n": 10}, {"m": "msg-00002", "n": 10}, {"m": "msg-00003", "n": 10}]
