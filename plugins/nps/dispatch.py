"""Dispatch: the send ledger, batching, and exactly-once delivery of an interval's invitations.

A run's selected cohort (``nps.cohorts``) goes through the ledger ``ops.survey_invitations``:

    claimed ──mark_sending (committed)──► sending ──provider accepted──► sent
                                             │ 429/5xx after retries ─► claimed (sent again)
                                             │ 4xx payload error ─────► failed  (rerun after a fix)
                                             └ timeout / crash ───────► stays sending: uncertain

Every attempt starts by reconciling the interval's uncertain rows from evidence: the outbox file
exists, or a SendGrid webhook event carrying the send key reached ``ops.email_events`` → sent
(with the provider message id taken from the event); no evidence after
``dispatch.reconcile_grace_minutes`` → treated as not accepted → claimed again. Evidence is read
BEFORE expiry is applied, so evidence that arrives after the grace period still wins. Within the
grace period the rows wait and the attempt ends with ``SendsPending`` (its ``retry_after`` says
when to look again), so nothing is sent twice on a guess and the task finishes on its own.

Overlapping attempts of one interval (a retry beside a zombie first attempt, a hand-run during a
scheduled run) are safe twice over:

- an attempt holds the interval's lock while it works (a PostgreSQL advisory lock, a file lock
  beside a DuckDB file); a second attempt waits ``lock_wait_seconds`` for it, then ends with
  ``SendsPending`` having sent nothing;
- rows are owned row by row: ``mark_sending`` moves only rows that are still claimed (its
  rowcount, and when short ``batch_owned``, name them), only those are sent, and ``mark_sent``
  counts only the rows that batch moved; no attempt deletes another attempt's send plan.

Only claimed rows are ever sent, and a row leaves ``claimed`` (committed) before its request
goes out, so a retried, cleared or backfilled task never re-sends a row that may have been
accepted.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nps.cohorts import _naive
from nps.config import ProgramConfig
from nps.email.base import (
    Batch,
    Recipient,
    SendError,
)
from nps.email.render import MessageTemplate, render_template, substitutions
from nps.ledger import attempt
from nps.tokens import TokenSigner
from nps.warehouse import Warehouse, holding

log = logging.getLogger(__name__)


class DispatchError(RuntimeError):
    """The run did not send everything; retrying may help (uncertain or throttled batches)."""


class DispatchFailed(DispatchError):
    """A batch was rejected (4xx payload error): retrying cannot help until the cause is fixed."""


#: While rows wait for evidence, look again this often (ingestion loads webhook batches every 15 min).
EVIDENCE_POLL = timedelta(minutes=15)
#: How long an attempt waits for another attempt of the same interval to finish.
LOCK_WAIT_SECONDS = 60.0
#: When another attempt holds the interval, look again after this long.
LOCK_RETRY_AFTER = timedelta(minutes=5)


class SendsPending(DispatchError):  # noqa: N818 - a state to wait out, not an error to fix
    """Nothing can be decided for some rows now: wait ``retry_after``, then run the attempt again.

    Raised when uncertain sends (status ``sending``) wait for evidence or for the grace period,
    or when another attempt of the same interval holds its lock (nothing was sent then). Everything
    else of the attempt is done. The Airflow task turns it into a reschedule (not a failed try),
    so an uncertain send finishes without a person: the next attempt confirms the rows from
    evidence or, after the grace period, sends them again.
    """

    def __init__(self, message: str, *, retry_after: timedelta, waiting: int = 0, sent: int = 0,
                 result: DispatchResult | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.waiting = waiting
        self.sent = sent
        self.result = result


@dataclass
class DispatchResult:
    interval_start: datetime
    transport: str
    claimed: int = 0
    reconciled_sent: int = 0
    requeued: int = 0
    sent: int = 0
    batches: int = 0
    uncertain: int = 0
    failed: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.claimed} claimed, {self.reconciled_sent} confirmed by reconciliation, {self.requeued} re-queued, "
            f"{self.sent} sent in {self.batches} batches via {self.transport}, {self.uncertain} uncertain, "
            f"{self.failed} failed"
        )

    def as_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["interval_start"] = self.interval_start.isoformat()
        return d


def folder_name(interval_start: datetime) -> str:
    """The outbox folder (and batch label prefix) of an interval, e.g. ``2026-10-05T0600``."""
    return interval_start.strftime("%Y-%m-%dT%H%M")


def _domain(config: ProgramConfig) -> str:
    return config.sender.email.rsplit("@", 1)[-1]


def plan_batches(rows: list[dict[str, Any]], batch_size: int) -> list[tuple[tuple[str, str], list[dict[str, Any]]]]:
    """Group rows by (survey type, locale) into batches of at most ``batch_size``, each address once."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["survey_type"], r["locale"])].append(r)
    plan = []
    for key in sorted(groups):
        batches: list[tuple[set[str], list[dict[str, Any]]]] = []
        first_open = 0  # batches before it are full: not looked at again (one pass, not rows x batches)
        for r in groups[key]:
            addr = r["email"].strip().lower()
            # The first batch with room that does not hold this address yet (SendGrid: once per request).
            for i in range(first_open, len(batches)):
                emails, members = batches[i]
                if len(members) < batch_size and addr not in emails:
                    emails.add(addr)
                    members.append(r)
                    break
            else:
                batches.append(({addr}, [r]))
            while first_open < len(batches) and len(batches[first_open][1]) >= batch_size:
                first_open += 1
        plan += [(key, members) for _, members in batches]
    return plan


def reconcile(
    wh: Warehouse, config: ProgramConfig, interval_start: datetime, now: datetime, *, outbox_root=None
) -> tuple[int, int, int]:
    """Resolve an interval's uncertain (sending) rows; returns (confirmed sent, re-queued, still uncertain)."""
    from nps.email.outbox import OutboxTransport

    params = {"interval_start": interval_start}
    rows = wh.query(wh.read_sql("dispatch/uncertain"), params)
    if not rows:
        return 0, 0, 0
    outbox_keys = [r["send_key"] for r in rows if r["transport"] == "outbox"]
    proven = sorted(OutboxTransport(outbox_root).delivered(folder_name(interval_start), outbox_keys)) if outbox_keys else []
    cutoff = now - timedelta(minutes=config.dispatch.reconcile_grace_minutes)
    with wh.begin() as conn:
        confirmed = wh.run_file(conn, "dispatch/reconcile_events", params)
        if proven:
            confirmed += wh.run_for_list(conn, "dispatch/reconcile_keys", {**params, "domain": _domain(config)}, "keys", proven)
        requeued = wh.run_file(conn, "dispatch/reconcile_expired", {**params, "cutoff": cutoff})
    waiting = len(rows) - confirmed - requeued
    log.info(
        "reconciled %d uncertain invitations: %d confirmed sent by evidence, %d re-queued (no evidence after %d min), "
        "%d still waiting for evidence",
        len(rows), confirmed, requeued, config.dispatch.reconcile_grace_minutes, waiting,
    )
    return confirmed, requeued, waiting


def _step(wh: Warehouse, conn, name: str, params: dict[str, Any]) -> int:
    """One SQL file in its own committed transaction on the shared connection."""
    with conn.begin():
        return wh.run_file(conn, name, params)


def _build_batch(config: ProgramConfig, signer: TokenSigner, templates: dict, batch_id: str, key, members, folder: str) -> Batch:
    """Render one batch: the template once, one token per recipient, names."""
    from nps.clock import utcnow

    survey_type, locale = key
    if key not in templates:
        templates[key] = render_template(config, survey_type, locale)
    tmpl = templates[key]
    issued_at = utcnow()  # the batch goes out as one request: one issue time for its tokens
    recipients = [
        Recipient(
            send_key=r["send_key"],
            survey_id=r["survey_id"],
            email=r["email"],
            name=f"{r['first_name']} {r['last_name']}".strip(),
            substitutions=substitutions(signer, r["survey_id"], survey_type, r["first_name"], r["company"], issued_at,
                                        tmpl.locale),
        )
        for r in members
    ]
    return Batch(
        batch_id=batch_id,
        template=tmpl,
        recipients=recipients,
        folder=folder,
        sender_name=config.sender.name,
        sender_email=config.sender.email,
        categories=["nps-invitation", survey_type, locale],
    )


class IntervalBusy(SendsPending):
    """Another attempt of the same interval holds its lock; this attempt sent nothing."""


@contextmanager
def interval_lock(wh: Warehouse, interval_start: datetime, wait_seconds: float = LOCK_WAIT_SECONDS) -> Iterator[None]:
    """Hold the interval's dispatch lock (``nps.ledger.scope_lock``, shared with every other email);
    raise ``IntervalBusy`` if another attempt keeps it past ``wait_seconds``.

    PostgreSQL: a session advisory lock on a connection kept open for the attempt. DuckDB: an
    exclusive ``flock`` on a file beside the warehouse file. Both are released when the process
    dies (a SIGKILLed worker never leaves the interval locked).
    """
    from nps.ledger import scope_lock

    busy = IntervalBusy(
        f"another attempt is sending the invitations of {folder_name(interval_start)} (its lock was held for "
        f"{wait_seconds:.0f}s); this attempt sent nothing and looks again in {LOCK_RETRY_AFTER}",
        retry_after=LOCK_RETRY_AFTER,
    )
    folder = folder_name(interval_start)
    with scope_lock(wh, f"nps.dispatch|{folder}", f"dispatch-{folder}", wait_seconds, busy):
        yield


def _send_batches(wh: Warehouse, conn, config: ProgramConfig, signer: TokenSigner, transport, plan, batch_ids,
                  folder: str, domain: str, templates: dict, result: DispatchResult) -> None:
    """Send the planned batches in order; stops at the first batch that was not (certainly) sent.

    A pipeline: while batch k is on the wire (one sender thread, one request at a time),
    this thread commits, in one transaction, batch k-1 as sent (accepted by the provider) and
    batch k+1 as sending, while a render thread renders batch k+1 and, when the transport can
    (``prepare``), encodes its request (again with only the rows the transaction moved, when it
    moved fewer than planned). So each batch's rows are committed
    sending before its own request (never sent again on a guess), the ledger's commit is off the
    request's path, and there is one commit per request. Only the rows ``mark_sending`` moved are
    sent: rows another attempt took in the meantime are left out of the request.

    When request k is not accepted, batch k+1 (committed sending, never handed to the transport)
    is put back to claimed (``hand_back``): certainly not sent. A worker killed at any point
    leaves at most two batches ``sending``: the one whose request was on the wire or just answered,
    and the one committed next, or the one accepted before it; both are reconciled by the next
    attempt (evidence, else after the grace period).
    """
    from concurrent.futures import ThreadPoolExecutor

    import sqlalchemy as sa

    from nps.clock import utcnow

    if not plan:
        return
    items = list(zip(batch_ids, plan, strict=True))
    prepare = getattr(transport, "prepare", None)
    accepted: list[tuple[dict[str, Any], int, str | None]] = []  # (batch params, recipients, message id), not yet recorded
    unsent: dict[str, Any] | None = None  # a batch committed sending and not handed to the transport (yet)
    nxt = 0  # the next planned batch to hand over

    def mark_sent(bparams: dict[str, Any], n: int, message_id: str | None) -> int:
        marked = wh.run_file(conn, "dispatch/mark_sent", {**bparams, "now": utcnow(), "message_id": message_id,
                                                          "domain": domain})
        if marked != n:
            log.error("batch %s: the provider accepted %d invitations but only %d ledger rows were still this "
                      "batch's to mark sent", bparams["batch_id"], n, marked)
        return marked

    def recorded(marked: int) -> None:  # the accepted batches' mark_sent was committed
        result.sent, result.batches = result.sent + marked, result.batches + len(accepted)
        accepted.clear()

    def render(batch_id: str, key, members) -> Batch:
        batch = _build_batch(config, signer, templates, batch_id, key, members, folder)
        if prepare is not None:
            try:
                return prepare(batch)
            except SendError:  # e.g. an oversized batch: sent as it is, the transport classifies the error
                return batch
        return batch

    def hand_over(renderer):
        """One commit: the accepted batches become sent, the next planned batch's still-claimed rows
        sending; returns that batch rendered with the rows it moved (None: the plan is done). The
        batch is rendered (``renderer``) while the transaction runs, and again, with the rows it
        moved, when it moved fewer than planned."""
        nonlocal nxt, unsent
        while nxt < len(items):
            batch_id, (key, members) = items[nxt]
            nxt += 1
            bparams = {"batch_id": batch_id}
            rendering = renderer.submit(render, batch_id, key, members)
            try:
                with conn.begin():
                    marked = sum(mark_sent(*a) for a in accepted)
                    moved = wh.run_file(conn, "dispatch/mark_sending",
                                        {**bparams, "now": utcnow(), "transport": transport.name})
                    # Every planned row moved (the usual case) or, when fewer, exactly which ones.
                    owned = None if moved == len(members) else {
                        r["send_key"] for r in conn.execute(sa.text(wh.read_sql("dispatch/batch_owned")), bparams).mappings()}
                unsent = bparams  # committed
                recorded(marked)
            finally:
                batch = rendering.result()
            if owned is None:
                return batch
            log.warning("batch %s: %d of its %d invitations were taken by another attempt; sending the other %d",
                        batch_id, len(members) - len(owned), len(members), len(owned))
            members = [r for r in members if r["send_key"] in owned]
            if members:
                return render(batch_id, key, members)
            unsent = None  # it moved no row
        return None

    def settle(batch: Batch, out) -> None:
        """Record a request that was not accepted: its rows leave sending, or stay uncertain."""
        bparams = {"batch_id": batch.batch_id}
        if out.status == "failed":
            result.failed += _step(wh, conn, "dispatch/mark_unsent", {**bparams, "status": "failed", "error": out.error})
        elif out.status == "claimed":
            _step(wh, conn, "dispatch/mark_unsent", {**bparams, "status": "claimed", "error": out.error})
        else:
            result.uncertain += _step(wh, conn, "dispatch/mark_uncertain", {**bparams, "error": out.error})
        result.errors.append(out.error)

    flight = None  # (batch, future): the request on the wire
    with (ThreadPoolExecutor(max_workers=1, thread_name_prefix="nps-send") as pool,
          ThreadPoolExecutor(max_workers=1, thread_name_prefix="nps-render") as renderer):
        try:
            batch = hand_over(renderer)
            while batch is not None:
                # Forgotten before the request leaves: from here on these rows are never put back.
                unsent = None
                flight = (batch, pool.submit(attempt, transport.send, batch))
                # While it is on the wire: the previous batch recorded sent, the next one committed
                # sending and, beside that transaction, rendered.
                upcoming = hand_over(renderer)
                out = flight[1].result()
                done, flight = flight[0], None
                if out.status != "sent":
                    settle(done, out)
                    return
                accepted.append(({"batch_id": done.batch_id}, len(done.recipients), out.message_id))
                batch = upcoming
        finally:
            if flight is not None:  # an error here while a request was on the wire: its answer first
                try:
                    out = flight[1].result()
                except BaseException:  # noqa: BLE001 - the transport died with it (a killed worker): uncertain
                    out = None
                if out is not None and out.status == "sent":
                    accepted.append(({"batch_id": flight[0].batch_id}, len(flight[0].recipients), out.message_id))
                elif out is not None:
                    settle(flight[0], out)
            if unsent is not None:  # committed sending but never handed to the transport: certainly not sent
                _step(wh, conn, "dispatch/hand_back", unsent)
            if accepted:
                with conn.begin():
                    marked = sum(mark_sent(*a) for a in accepted)
                recorded(marked)


def _retry_after(wh: Warehouse, config: ProgramConfig, interval_start: datetime, now: datetime) -> tuple[int, timedelta]:
    """(rows waiting, how long until it is worth looking again): the next evidence poll or the grace period's end."""
    row = wh.query(wh.read_sql("dispatch/waiting"), {"interval_start": interval_start})[0]
    waiting = int(row["n"] or 0)
    if not waiting:
        return 0, timedelta(0)
    expires = row["oldest_attempt_at"] + timedelta(minutes=config.dispatch.reconcile_grace_minutes)
    # reconcile_expired re-queues rows strictly older than the cutoff: one second past the end.
    until_expiry = expires - now + timedelta(seconds=1)
    return waiting, max(timedelta(minutes=1), min(EVIDENCE_POLL, until_expiry))


@holding
def dispatch_invitations(
    wh: Warehouse,
    config: ProgramConfig,
    signer: TokenSigner,
    transport,
    interval_start: datetime,
    run_id: str,
    *,
    outbox_root=None,
    lock_wait_seconds: float = LOCK_WAIT_SECONDS,
) -> DispatchResult:
    """Claim, reconcile and send an interval's invitations.

    Raises ``DispatchFailed`` (a batch was rejected: fix, then rerun), ``SendsPending`` (rows wait
    for evidence or the grace period, or another attempt holds the interval: run again after
    ``retry_after``) or ``DispatchError`` (throttled or unreachable: retry).
    """
    interval_start = _naive(interval_start)
    with interval_lock(wh, interval_start, lock_wait_seconds):
        return _dispatch_locked(wh, config, signer, transport, interval_start, run_id, outbox_root=outbox_root)


def _dispatch_locked(wh: Warehouse, config: ProgramConfig, signer: TokenSigner, transport, interval_start: datetime,
                     run_id: str, *, outbox_root=None) -> DispatchResult:
    import pandas as pd

    from nps.clock import utcnow

    params = {"interval_start": interval_start}
    result = DispatchResult(interval_start, transport.name)
    domain = _domain(config)
    folder = folder_name(interval_start)
    attempt = uuid.uuid4().hex[:6]  # batch ids are unique per attempt, so a batch's rows are unambiguous
    attempt_prefix = f"{folder}.{attempt}."

    stage = {**params, "stage_id": f"claim.{folder}.{attempt}"}
    with wh.begin() as conn:
        wh.run_file(conn, "dispatch/clear_stage", stage)
        wh.run_file(conn, "dispatch/claim_stage", stage)
        result.claimed = wh.run_file(conn, "dispatch/claim", {**stage, "run_id": run_id, "now": utcnow()})
        wh.run_file(conn, "dispatch/clear_stage", stage)
        wh.run_file(conn, "dispatch/retry_failed", params)
    if outbox_root is None and getattr(transport, "name", "") == "outbox":
        outbox_root = getattr(transport, "root", None)
    result.reconciled_sent, result.requeued, result.uncertain = reconcile(
        wh, config, interval_start, utcnow(), outbox_root=outbox_root
    )

    rows = wh.query(wh.read_sql("dispatch/pending"), params)
    plan = plan_batches(rows, config.dispatch.batch_size)
    batch_ids = [f"{attempt_prefix}{i:05d}" for i in range(len(plan))]
    plan_df = pd.DataFrame(
        {
            "batch_id": [b for b, (_, members) in zip(batch_ids, plan, strict=True) for _ in members],
            "send_key": [r["send_key"] for _, members in plan for r in members],
            "interval_start": interval_start,
        },
        columns=["batch_id", "send_key", "interval_start"],
    )
    with wh.begin() as conn:
        wh.run_file(conn, "dispatch/clear_batches", params)  # finished plan rows only, never a live attempt's
        wh.load_df(conn, "ops.dispatch_batches", plan_df)

    templates: dict[tuple[str, str], MessageTemplate] = {}
    # One connection for the whole loop (a transaction per step): reopening a DuckDB file per
    # batch costs more than the batch's SQL.
    try:
        with wh.engine.connect() as conn:
            _send_batches(wh, conn, config, signer, transport, plan, batch_ids, folder, domain, templates, result)
    finally:
        with wh.begin() as conn:
            wh.run_file(conn, "dispatch/drop_plan", {**params, "attempt_prefix": attempt_prefix + "%"})

    result.statuses = {r["status"]: int(r["n"]) for r in wh.query(wh.read_sql("dispatch/status_counts"), params)}
    for r in wh.query(wh.read_sql("dispatch/stuck_elsewhere"), params):
        log.warning("interval %s still has %d %s invitations: clear that run to finish it", r["interval_start"], r["n"], r["status"])
    log.info("dispatch of %s: %s; ledger: %s", folder, result.line(), result.statuses)
    if result.failed:
        raise DispatchFailed(
            f"{result.failed} invitations failed: {result.errors[-1]}. Fix the cause, then clear this task: "
            "failed rows of the interval are sent again."
        )
    if result.errors and not result.uncertain:
        raise DispatchError(
            f"dispatch of {folder} incomplete ({result.line()}): {result.errors[-1]}. "
            "A retry reconciles and sends the rest; nothing is sent twice."
        )
    waiting, retry_after = _retry_after(wh, config, interval_start, utcnow())
    if waiting:
        result.uncertain = waiting
        why = result.errors[-1] if result.errors else "uncertain sends are waiting for evidence"
        raise SendsPending(
            f"dispatch of {folder}: {waiting} invitations wait for evidence of acceptance or the end of the "
            f"{config.dispatch.reconcile_grace_minutes}-minute grace period ({why}); {result.sent} sent now. "
            f"Looking again in {retry_after}; nothing is sent twice.",
            retry_after=retry_after, waiting=waiting, sent=result.sent, result=result,
        )
    return result


__all__ = [
    "DispatchError", "DispatchFailed", "DispatchResult", "IntervalBusy", "SendError", "SendsPending",
    "dispatch_invitations", "interval_lock", "plan_batches", "reconcile",
]
