"""Dispatch: the send ledger, batching, and exactly-once delivery of an interval's invitations.

A run's selected cohort (``nps.cohorts``) goes through the ledger ``ops.survey_invitations``:

    claimed ──mark_sending (committed)──► sending ──provider accepted──► sent
                                             │ 429/5xx after retries ─► claimed (sent again)
                                             │ 4xx payload error ─────► failed  (rerun after a fix)
                                             └ timeout / crash ───────► stays sending: uncertain

Every attempt starts by reconciling the interval's uncertain rows from evidence: the outbox file
exists, or a SendGrid webhook event carrying the send key reached ``ops.email_events`` → sent;
no evidence after ``dispatch.reconcile_grace_minutes`` → treated as not accepted → claimed again.
Within the grace period the rows wait and the task fails with a retryable error, so nothing is
sent twice on a guess. Only claimed rows are ever sent, and a row leaves ``claimed`` (committed)
before its request goes out, so a retried, cleared or backfilled task never re-sends a row that
may have been accepted.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nps.cohorts import _naive
from nps.config import ProgramConfig
from nps.email.base import (
    Batch,
    PermanentSendError,
    Recipient,
    SendError,
    TransientSendError,
    UncertainSendError,
)
from nps.email.render import MessageTemplate, render_template, substitutions
from nps.tokens import TokenSigner
from nps.warehouse import Warehouse

log = logging.getLogger(__name__)


class DispatchError(RuntimeError):
    """The run did not send everything; retrying may help (uncertain or throttled batches)."""


class DispatchFailed(DispatchError):
    """A batch was rejected (4xx payload error): retrying cannot help until the cause is fixed."""


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
        open_batches: list[tuple[set[str], list[dict[str, Any]]]] = []
        for r in groups[key]:
            addr = r["email"].strip().lower()
            # The first batch with room that does not hold this address yet (SendGrid: once per request).
            for emails, members in open_batches:
                if len(members) < batch_size and addr not in emails:
                    emails.add(addr)
                    members.append(r)
                    break
            else:
                open_batches.append(({addr}, [r]))
        plan += [(key, members) for _, members in open_batches]
    return plan


def _keys_update(wh: Warehouse, conn, name: str, params: dict[str, Any], keys: list[str]) -> int:
    """Run an UPDATE whose ``:keys`` is a list, in chunks."""
    import sqlalchemy as sa

    stmt = sa.text(wh.read_sql(name).strip().rstrip(";")).bindparams(sa.bindparam("keys", expanding=True))
    n = 0
    for i in range(0, len(keys), 1000):
        n += conn.execute(stmt, {**params, "keys": keys[i : i + 1000]}).rowcount
    return n


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
            confirmed += _keys_update(wh, conn, "dispatch/reconcile_keys", {**params, "domain": _domain(config)}, proven)
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
    """Render one batch: the template once, per-recipient tokens and names."""
    survey_type, locale = key
    if key not in templates:
        templates[key] = render_template(config, survey_type, locale)
    tmpl = templates[key]
    answers = tmpl.answers
    recipients = [
        Recipient(
            send_key=r["send_key"],
            survey_id=r["survey_id"],
            email=r["email"],
            name=f"{r['first_name']} {r['last_name']}".strip(),
            substitutions=substitutions(signer, r["survey_id"], survey_type, r["first_name"], r["company"], answers),
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


def _send_batches(wh: Warehouse, conn, config: ProgramConfig, signer: TokenSigner, transport, plan, batch_ids,
                  folder: str, domain: str, templates: dict, result: DispatchResult) -> None:
    """Send the planned batches in order; stops at the first batch that was not (certainly) sent.

    A two-stage pipeline: while batch k is on the wire (one sender thread, at most one batch in
    flight), the next batch is rendered. The ledger protocol is unchanged: a batch is marked
    sending (committed) before its request and sent after it; a rendered batch that was never
    marked is simply dropped when an earlier one fails.
    """
    from concurrent.futures import ThreadPoolExecutor

    from nps.clock import utcnow

    if not plan:
        return
    items = list(zip(batch_ids, plan, strict=True))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nps-send") as pool:
        batch = _build_batch(config, signer, templates, items[0][0], *items[0][1], folder)
        for n in range(len(items)):
            bparams = {"batch_id": batch.batch_id}
            # Committed before the request: from here on the rows are never sent again on a guess.
            _step(wh, conn, "dispatch/mark_sending", {**bparams, "now": utcnow(), "transport": transport.name})
            future = pool.submit(transport.send, batch)
            upcoming = _build_batch(config, signer, templates, items[n + 1][0], *items[n + 1][1], folder) if n + 1 < len(items) else None
            try:
                message_id = future.result()
            except PermanentSendError as err:
                _step(wh, conn, "dispatch/mark_unsent", {**bparams, "status": "failed", "error": str(err)[:2000]})
                result.failed += len(batch.recipients)
                result.errors.append(str(err))
                log.error("%s", err)
                return
            except TransientSendError as err:
                _step(wh, conn, "dispatch/mark_unsent", {**bparams, "status": "claimed", "error": str(err)[:2000]})
                result.errors.append(str(err))
                log.error("%s", err)
                return
            except UncertainSendError as err:
                _step(wh, conn, "dispatch/mark_uncertain", {**bparams, "error": str(err)[:2000]})
                result.uncertain += len(batch.recipients)
                result.errors.append(str(err))
                log.error("%s", err)
                return
            _step(wh, conn, "dispatch/mark_sent", {**bparams, "now": utcnow(), "message_id": message_id, "domain": domain})
            result.sent += len(batch.recipients)
            result.batches += 1
            if upcoming is None:
                return
            batch = upcoming


def dispatch_invitations(
    wh: Warehouse,
    config: ProgramConfig,
    signer: TokenSigner,
    transport,
    interval_start: datetime,
    run_id: str,
    *,
    outbox_root=None,
) -> DispatchResult:
    """Claim, reconcile and send an interval's invitations; raises DispatchError if any remain unsent."""
    import pandas as pd

    from nps.clock import utcnow

    interval_start = _naive(interval_start)
    params = {"interval_start": interval_start}
    result = DispatchResult(interval_start, transport.name)
    domain = _domain(config)

    stage = {**params, "stage_id": f"claim.{folder_name(interval_start)}"}
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
    attempt = uuid.uuid4().hex[:6]  # batch ids are unique per attempt, so a batch's rows are unambiguous
    folder = folder_name(interval_start)
    batch_ids = [f"{folder}.{attempt}.{i:05d}" for i in range(len(plan))]
    plan_df = pd.DataFrame(
        {
            "batch_id": [b for b, (_, members) in zip(batch_ids, plan, strict=True) for _ in members],
            "send_key": [r["send_key"] for _, members in plan for r in members],
            "interval_start": interval_start,
        },
        columns=["batch_id", "send_key", "interval_start"],
    )
    with wh.begin() as conn:
        wh.run_file(conn, "dispatch/clear_batches", params)
        wh.load_df(conn, "ops.dispatch_batches", plan_df)
        wh.run_file(conn, "dispatch/analyze")

    templates: dict[tuple[str, str], MessageTemplate] = {}
    # One connection for the whole loop (a transaction per step): reopening a DuckDB file per
    # batch costs more than the batch's SQL.
    with wh.engine.connect() as conn:
        _send_batches(wh, conn, config, signer, transport, plan, batch_ids, folder, domain, templates, result)

    result.statuses = {r["status"]: int(r["n"]) for r in wh.query(wh.read_sql("dispatch/status_counts"), params)}
    for r in wh.query(wh.read_sql("dispatch/stuck_elsewhere"), params):
        log.warning("interval %s still has %d %s invitations: clear that run to finish it", r["interval_start"], r["n"], r["status"])
    log.info("dispatch of %s: %s; ledger: %s", folder, result.line(), result.statuses)
    if result.failed:
        raise DispatchFailed(
            f"{result.failed} invitations failed: {result.errors[-1]}. Fix the cause, then clear this task: "
            "failed rows of the interval are sent again."
        )
    if result.uncertain or result.errors:
        raise DispatchError(
            f"dispatch of {folder} incomplete ({result.line()}): {result.errors[-1] if result.errors else 'uncertain sends are waiting for evidence'}. "
            "A retry reconciles and sends the rest; nothing is sent twice."
        )
    return result


__all__ = ["DispatchError", "DispatchFailed", "DispatchResult", "SendError", "dispatch_invitations", "plan_batches", "reconcile"]
