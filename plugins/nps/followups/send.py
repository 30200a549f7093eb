"""Sending the decided follow-ups through the one exactly-once ledger (``nps.ledger.send_once``).

The pending decisions whose answer has settled become batches, one per (template, locale), at
most ``dispatch.batch_size`` recipients each and every address once per batch; each recipient's
send key is ``followup/<survey_id>``, so a survey gets at most one follow-up whatever happens
(reruns, retries, a worker killed mid-send, a changed answer). After the call the decisions take
the ledger's outcome (``followups/mark_from_ledger.sql``): sent, failed with the provider's
error, or still pending while an uncertain send waits for evidence.

The ledger scope is the stable ``followups`` (not one per run), so the uncertain sends of a run
that was killed are reconciled by whichever run comes next.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from nps.config import ProgramConfig
from nps.email.base import Batch, Recipient
from nps.followups.render import followup_substitutions, quote_blocks, render_followup
from nps.tokens import TokenSigner
from nps.warehouse import Warehouse, holding

log = logging.getLogger(__name__)

SCOPE = "followups"
KIND = "followup"


@dataclass
class SendResult:
    to_send: int = 0
    batches: int = 0
    by_template: Counter = field(default_factory=Counter)
    ledger: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"to_send": self.to_send, "batches": self.batches, "by_template": dict(sorted(self.by_template.items())),
                "ledger": self.ledger}


def message_id(send_key: str) -> str:
    """The recipient's id in Message-ID headers and SendGrid custom_args (the key without slashes)."""
    return send_key.replace("/", ".")


def build_batches(config: ProgramConfig, signer: TokenSigner, rows: list[dict[str, Any]], *, folder: str,
                  issued_at: datetime) -> tuple[list[Batch], Counter]:
    """One batch per (template, locale), at most ``dispatch.batch_size`` recipients, each address once."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        groups[(r["template"], r["locale"])].append(r)
    batches: list[Batch] = []
    counts: Counter = Counter()
    size = config.dispatch.batch_size
    for (template, locale), members in sorted(groups.items()):
        tmpl = render_followup(config, template, locale)
        quotes = quote_blocks(tmpl.locale)
        chunks: list[tuple[set[str], list[Recipient]]] = []
        for r in members:
            name = f"{r['first_name'] or ''} {r['last_name'] or ''}".strip()
            rec = Recipient(
                send_key=r["send_key"], survey_id=message_id(r["send_key"]), email=str(r["email"]).strip(), name=name,
                substitutions=followup_substitutions(
                    signer, survey_id=r["survey_id"], survey_type=r["survey_type"], locale=tmpl.locale,
                    name=r["first_name"] or name, company=r["company"] or "", owner=r["owner_name"] or "",
                    comment=r["comment"], quotes=quotes, issued_at=issued_at),
            )
            addr = rec.email.lower()
            for emails, recs in chunks:
                if len(recs) < size and addr not in emails:
                    emails.add(addr)
                    recs.append(rec)
                    break
            else:
                chunks.append(({addr}, [rec]))
            counts[f"{template}.{tmpl.locale}"] += 1
        for j, (_, recs) in enumerate(chunks):
            batches.append(Batch(
                batch_id=f"followup.{template}.{tmpl.locale}.{j:03d}", template=tmpl, recipients=recs, folder=folder,
                sender_name=config.sender.name, sender_email=config.sender.email,
                categories=["nps-followup", template, tmpl.locale],
            ))
    return batches, counts


def sync_from_ledger(wh: Warehouse, now: datetime) -> None:
    """Pending decisions take the ledger's outcome for their send key (sent, failed, uncertain)."""
    with wh.begin() as conn:
        wh.run_file(conn, "followups/mark_from_ledger", {"now": now, "scope": SCOPE})


@holding
def send_followups(wh: Warehouse, config: ProgramConfig, signer: TokenSigner, transport, *, now: datetime, run_id: str,
                   folder: str, dry_run: bool = False) -> SendResult:
    """Send every settled pending follow-up exactly once; ``dry_run`` renders and counts only.

    Raises ``nps.dispatch.SendsPending`` (from the ledger) when uncertain sends wait for evidence;
    the decisions already reflect everything the ledger decided by then.
    """
    settled_before = now - timedelta(minutes=config.followups.settle_minutes)
    rows = wh.query(wh.read_sql("followups/to_send"), {"settled_before": settled_before})
    batches, counts = build_batches(config, signer, rows, folder=folder, issued_at=now)
    result = SendResult(to_send=len(rows), batches=len(batches), by_template=counts)
    if dry_run or not rows:
        return result
    from nps.ledger import send_once

    try:
        lr = send_once(wh, batches, transport, scope=SCOPE, kind=KIND, run_id=run_id,
                       grace_minutes=config.dispatch.reconcile_grace_minutes)
    finally:
        from nps.clock import utcnow

        sync_from_ledger(wh, utcnow())
    result.ledger = lr.as_dict()
    log.info("follow-ups: %d to send in %d batches (%s); ledger: %s", result.to_send, result.batches,
             ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())), lr.line())
    return result


__all__ = ["KIND", "SCOPE", "SendResult", "build_batches", "message_id", "send_followups", "sync_from_ledger"]
