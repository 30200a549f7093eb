"""The exactly-once ledger for every email that is not a survey invitation.

KPI reports today; follow-ups, owner alerts, escalations and digests use the same call. One row
per send key in ``ops.message_ledger``, with the invitations' protocol (``nps.dispatch``):

    claimed ──mark_sending (committed)──► sending ──provider accepted──► sent
                                             │ 429/5xx ──────────────► claimed (sent again)
                                             │ 4xx payload error ────► failed  (a rerun after a fix retries)
                                             └ timeout / crash ──────► stays sending: uncertain

- **Claimed before send.** A key leaves ``claimed`` (committed) before its request goes out, so a
  retried, cleared or backfilled task never sends a key that may have been accepted.
- **Kill-safe.** A worker killed mid-request leaves its keys ``sending``. The next attempt
  reconciles them from evidence first: the outbox file exists, or a SendGrid webhook event carrying
  the send key reached ``ops.email_events`` → sent. With no evidence after ``grace_minutes`` they
  are treated as not accepted and claimed again; within it the call ends with ``SendsPending``
  (its ``retry_after`` says when to look again) having decided nothing on a guess.
- **Recorded when accepted.** A batch the provider accepted becomes ``sent`` in the same commit
  that hands the next batch over (``mark_sending``), or on its own after the last one or before
  an error: one commit per request, never a request before its keys left ``claimed``.
- **One attempt at a time.** A call holds its scope's lock (a PostgreSQL advisory lock, a file
  lock beside a DuckDB file; both die with the process) and owns rows one by one: only keys that
  ``mark_sending`` moved are sent.
- **Resend on purpose.** ``resend=True`` claims again the keys sent by *another* run; a retry of
  the resending run does not send them a third time.

Invitations keep their own table (``ops.survey_invitations`` is also the cohort's record); they
share this module's lock (``scope_lock``) and the same states and reconciliation rules. Unlike
``send_once``, ``nps.dispatch`` commits the next batch ``sending`` while a request is on the wire
(a killed worker may leave two batches uncertain there, one here).
"""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from nps.email.base import Batch, PermanentSendError, TransientSendError, UncertainSendError
from nps.warehouse import Warehouse, holding

log = logging.getLogger(__name__)

#: While keys wait for evidence, look again this often (ingestion loads webhook batches every 15 min).
EVIDENCE_POLL = timedelta(minutes=15)
#: How long a call waits for another call on the same scope to finish.
LOCK_WAIT_SECONDS = 60.0
#: When another attempt holds the scope, look again after this long.
LOCK_RETRY_AFTER = timedelta(minutes=5)


def recipient_hash(email: str) -> str:
    """The ledger's handle on an address: 16 hex digits of its sha256 (no address is stored)."""
    return hashlib.sha256(email.strip().lower().encode("utf-8")).hexdigest()[:16]


@dataclass
class LedgerResult:
    scope: str
    transport: str
    claimed: int = 0          # keys new to the ledger in this call (or claimed again: failed, resend)
    already_sent: int = 0     # keys of this call that were sent before it
    reconciled_sent: int = 0  # uncertain keys confirmed sent by evidence
    requeued: int = 0         # uncertain keys claimed again after the grace period
    sent: int = 0
    batches: int = 0
    uncertain: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.sent} sent in {self.batches} batches via {self.transport}, {self.already_sent} already sent, "
                f"{self.reconciled_sent} confirmed by reconciliation, {self.requeued} re-queued, "
                f"{self.uncertain} uncertain, {self.failed} failed")

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Outcome:
    """What the provider did with one batch, as the ledger state its rows move to."""

    status: str                 # sent; claimed (429/5xx: send again); failed (4xx); sending (uncertain)
    message_id: str | None = None
    error: str = ""


def attempt(send, batch: Batch) -> Outcome:
    """Send one batch and classify the result: the one mapping of transport errors to ledger states,
    for invitations (``nps.dispatch``) and every other email (``send_once``)."""
    try:
        return Outcome("sent", send(batch))
    except PermanentSendError as err:
        status, error = "failed", err
    except TransientSendError as err:
        status, error = "claimed", err
    except UncertainSendError as err:
        status, error = "sending", err
    log.error("%s", error)
    return Outcome(status, error=str(error)[:2000])


# -- the lock ---------------------------------------------------------------------------------------
def lock_key(name: str) -> int:
    """A stable signed 64-bit key per lock name (PostgreSQL advisory locks take a bigint)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _lock_file(wh: Warehouse, file_stem: str):
    from pathlib import Path

    import sqlalchemy as sa

    db = sa.make_url(wh.url).database
    if not db or db == ":memory:":
        return None
    folder = Path(db).with_name(Path(db).name + ".locks")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{file_stem}.lock"


@contextmanager
def scope_lock(wh: Warehouse, name: str, file_stem: str, wait_seconds: float, busy: Exception) -> Iterator[None]:
    """Hold the lock ``name``; raise ``busy`` if another process keeps it past ``wait_seconds``.

    PostgreSQL: a session advisory lock on a connection kept open for the call. DuckDB: an
    exclusive ``flock`` on ``<warehouse file>.locks/<file_stem>.lock``. Both are released when the
    process dies (a SIGKILLed worker never leaves a scope locked).
    """
    deadline = time.monotonic() + max(0.0, wait_seconds)
    if wh.is_duckdb:
        import fcntl

        path = _lock_file(wh, file_stem)
        if path is None:
            yield
            return
        with open(path, "a+b") as fh:
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise busy from None
                    time.sleep(0.2)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
        return
    import sqlalchemy as sa

    key = lock_key(name)
    with wh.engine.connect() as conn:
        while True:
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
            conn.commit()  # a session lock outlives the transaction; do not sit idle in one
            if got:
                break
            if time.monotonic() >= deadline:
                raise busy
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            conn.commit()


def _safe(scope: str) -> str:
    import re

    return re.sub(r"[^A-Za-z0-9._-]+", "_", scope)


# -- SQL helpers --------------------------------------------------------------------------------------
def reconcile(wh: Warehouse, scope: str, now: datetime, grace_minutes: int, *, outbox=None) -> tuple[int, int, int]:
    """Resolve the scope's uncertain (sending) keys; returns (confirmed sent, re-queued, still waiting).

    Evidence is read BEFORE expiry is applied, so evidence that arrives after the grace period wins.
    """
    from nps.email.outbox import OutboxTransport

    params = {"scope": scope}
    rows = wh.query(wh.read_sql("ledger/uncertain"), params)
    if not rows:
        return 0, 0, 0
    proven: list[str] = []
    by_folder: dict[str, list[str]] = {}
    for r in rows:
        if r["transport"] == "outbox" and r["folder"]:
            by_folder.setdefault(r["folder"], []).append(r["send_key"])
    if by_folder:
        box = outbox if getattr(outbox, "name", "") == "outbox" else OutboxTransport(getattr(outbox, "root", None))
        for folder, keys in by_folder.items():
            proven += sorted(box.delivered(folder, keys))
    cutoff = now - timedelta(minutes=grace_minutes)
    with wh.begin() as conn:
        confirmed = wh.run_file(conn, "ledger/reconcile_events", params)
        if proven:
            confirmed += wh.run_for_list(conn, "ledger/reconcile_keys", params, "keys", proven)
        requeued = wh.run_file(conn, "ledger/reconcile_expired", {**params, "cutoff": cutoff})
    waiting = len(rows) - confirmed - requeued
    log.info("%s: reconciled %d uncertain sends: %d confirmed sent by evidence, %d re-queued (no evidence after "
             "%d min), %d still waiting for evidence", scope, len(rows), confirmed, requeued, grace_minutes, waiting)
    return confirmed, requeued, waiting


def _claim(wh: Warehouse, batches: list[Batch], *, scope: str, kind: str, run_id: str, resend: bool, now: datetime,
           result: LedgerResult) -> None:
    import pandas as pd
    import sqlalchemy as sa

    keys = [r.send_key for b in batches for r in b.recipients]
    if len(keys) != len(set(keys)):
        dup = sorted({k for k in keys if keys.count(k) > 1})[:3]
        raise ValueError(f"{scope}: a send key appears twice in one call (e.g. {dup}): each message needs its own key")
    stage_id = f"{_safe(scope)}.{uuid.uuid4().hex[:8]}"
    df = pd.DataFrame({
        "stage_id": stage_id,
        "send_key": keys,
        "kind": kind,
        "scope": scope,
        "recipient_hash": [recipient_hash(r.email) for b in batches for r in b.recipients],
    }, columns=["stage_id", "send_key", "kind", "scope", "recipient_hash"])
    params = {"stage_id": stage_id, "run_id": run_id, "now": now, "resend": bool(resend)}
    with wh.begin() as conn:
        wh.load_df(conn, "ops.message_ledger_stage", df)
        # The keys the ledger knows first, then the new ones: planned after a large insert in the
        # same transaction, PostgreSQL's statistics still describe the ledger before it and a
        # join against it became a 66,667 x 66,667 nested loop (97 s on a first large send).
        result.claimed = wh.run_file(conn, "ledger/reclaim", params)
        result.already_sent = int(conn.execute(sa.text(wh.read_sql("ledger/count_sent")), params).scalar() or 0)
        result.claimed += wh.run_file(conn, "ledger/claim", params)
        wh.run_file(conn, "ledger/clear_stage", params)


def _retry_after(wh: Warehouse, scope: str, now: datetime, grace_minutes: int) -> tuple[int, timedelta]:
    rows = wh.query("SELECT COUNT(*) AS n, MIN(attempt_at) AS oldest FROM ops.message_ledger "
                    "WHERE scope = :scope AND status = 'sending'", {"scope": scope})
    waiting = int(rows[0]["n"] or 0)
    if not waiting:
        return 0, timedelta(0)
    until_expiry = rows[0]["oldest"] + timedelta(minutes=grace_minutes) - now + timedelta(seconds=1)
    return waiting, max(timedelta(minutes=1), min(EVIDENCE_POLL, until_expiry))


@holding
def send_once(wh: Warehouse, batches: list[Batch], transport, *, scope: str, kind: str, run_id: str,
              resend: bool = False, grace_minutes: int = 60, lock_wait_seconds: float = LOCK_WAIT_SECONDS) -> LedgerResult:
    """Send each recipient of ``batches`` exactly once per send key through ``transport``.

    ``scope`` names what the call covers (one report period, one follow-up interval): its lock and
    its reconciliation. Recipients whose key is already sent are left out of the requests (counted
    in ``already_sent``). Unlike invitations, a batch that fails does not stop the others: each
    batch is its own unit and the errors are collected.

    Raises ``nps.dispatch.SendsPending`` when uncertain sends wait for evidence or the grace period,
    or when another attempt holds the scope (then nothing was sent): run again after
    ``retry_after``. Returns the result otherwise; the caller decides whether ``failed`` or
    ``errors`` fail its task.
    """
    from nps.clock import utcnow
    from nps.dispatch import SendsPending

    name = getattr(transport, "name", type(transport).__name__)
    result = LedgerResult(scope, name)
    busy = SendsPending(
        f"another attempt is sending {scope} (its lock was held for {lock_wait_seconds:.0f}s); this attempt sent "
        f"nothing and looks again in {LOCK_RETRY_AFTER}", retry_after=LOCK_RETRY_AFTER,
    )
    if not any(b.recipients for b in batches):
        return result
    with scope_lock(wh, f"nps.ledger|{scope}", f"ledger-{_safe(scope)}", lock_wait_seconds, busy):
        result.reconciled_sent, result.requeued, result.uncertain = reconcile(
            wh, scope, utcnow(), grace_minutes, outbox=transport)
        _claim(wh, batches, scope=scope, kind=kind, run_id=run_id, resend=resend, now=utcnow(), result=result)
        attempt_id = uuid.uuid4().hex[:6]

        def record_sent(conn, accepted: tuple[dict[str, Any], list[str], Outcome]) -> int:
            bparams, mine, out = accepted
            marked = int(wh.run_for_list(conn, "ledger/mark_sent",
                                         {**bparams, "now": utcnow(), "message_id": out.message_id}, "keys", mine))
            if marked != len(mine):
                log.error("batch %s: the provider accepted %d messages but only %d ledger rows were still this "
                          "batch's to mark sent", bparams["batch_id"], len(mine), marked)
            return marked

        with wh.engine.connect() as conn:
            # An accepted batch is recorded sent in the transaction that hands the next batch over
            # (one commit per batch instead of two); the last one, or the one before an error, on its own.
            accepted = None
            try:
                for i, batch in enumerate(batches):
                    keys = [r.send_key for r in batch.recipients]
                    if not keys:
                        continue
                    bparams = {"batch_id": f"{batch.batch_id}.{attempt_id}.{i:04d}"}
                    with conn.begin():  # committed before the request: never sent again on a guess
                        marked = record_sent(conn, accepted) if accepted is not None else None
                        owned = wh.run_for_list(conn, "ledger/mark_sending",
                                                {**bparams, "now": utcnow(), "transport": name, "folder": batch.folder},
                                                "keys", keys, returning=True)
                    if marked is not None:  # committed
                        result.sent, result.batches, accepted = result.sent + marked, result.batches + 1, None
                    if not owned:
                        continue
                    todo = [r for r in batch.recipients if r.send_key in owned]
                    mine = sorted(owned)
                    out = attempt(transport.send, batch if len(todo) == len(batch.recipients) else replace(batch, recipients=todo))
                    if out.status == "sent":
                        accepted = (bparams, mine, out)
                        continue
                    with conn.begin():
                        if out.status == "sending":
                            n = wh.run_for_list(conn, "ledger/mark_uncertain", {**bparams, "error": out.error}, "keys", mine)
                        else:
                            n = wh.run_for_list(conn, "ledger/mark_unsent", {**bparams, "status": out.status, "error": out.error},
                                                "keys", mine)
                    result.failed += n if out.status == "failed" else 0
                    result.uncertain += n if out.status == "sending" else 0
                    result.errors.append(out.error)
            finally:
                if accepted is not None:
                    with conn.begin():
                        marked = record_sent(conn, accepted)
                    result.sent, result.batches = result.sent + marked, result.batches + 1
        result.statuses = {r["status"]: int(r["n"]) for r in wh.query(wh.read_sql("ledger/status_counts"), {"scope": scope})}
        log.info("%s: %s; ledger: %s", scope, result.line(), result.statuses)
        waiting, retry_after = _retry_after(wh, scope, utcnow(), grace_minutes)
        if waiting:
            result.uncertain = waiting
            why = result.errors[-1] if result.errors else "uncertain sends are waiting for evidence"
            raise SendsPending(
                f"{scope}: {waiting} messages wait for evidence of acceptance or the end of the {grace_minutes}-minute "
                f"grace period ({why}); {result.sent} sent now. Looking again in {retry_after}; nothing is sent twice.",
                retry_after=retry_after, waiting=waiting, sent=result.sent,
            )
    return result


__all__ = ["LedgerResult", "Outcome", "attempt", "recipient_hash", "reconcile", "scope_lock", "send_once"]
