"""SendGrid Event Webhook batches: email events, delivery state and suppressions.

A batch file (``events/*.json``) holds the webhook's own payload: a JSON array of event objects
with ``event``, ``email``, ``timestamp`` (Unix seconds), ``sg_event_id`` and the invitation's
``custom_args`` echoed as top-level keys (``send_key``, ``survey_id``; a nested ``custom_args``
object is accepted too). Per file, in one transaction:

- well-formed events are deduplicated on ``event_key`` (``sg_event_id``, or a hash of send_key,
  event and timestamp when it is missing): the webhook retries for 24 hours, so duplicates within
  a batch and across batches are counted once and reported as ``rows_duplicate``;
- ``ops.survey_invitations.delivery_status`` is recomputed for the invitations the file touched
  (bounce/dropped win; otherwise the latest event);
- bounce, dropped, spamreport, unsubscribe and group_unsubscribe add the address to
  ``ops.suppressions`` (one row per address and reason), which cohort selection excludes; an
  event with a survey but no address (the response page's unsubscribes, ``events/web-*.json``)
  suppresses the address of the survey's contact, found through the ledger;
- malformed events (no event type, unknown type, no timestamp) are quarantined with their
  position in the array as ``line_number``.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import logging
from datetime import UTC, datetime

import pandas as pd
import sqlalchemy as sa

from nps import clock
from nps.ingest import RejectedFileError, audit
from nps.ingest.landing import LandedFile, Landing
from nps.warehouse import holding

log = logging.getLogger(__name__)

EVENT_TYPES = ("processed", "deferred", "delivered", "bounce", "dropped", "open", "click", "spamreport",
               "unsubscribe", "group_unsubscribe", "group_resubscribe")
SUPPRESSING = ("bounce", "dropped", "spamreport", "unsubscribe", "group_unsubscribe")
EVENT_COLUMNS = ["event_key", "send_key", "survey_id", "event", "email", "reason", "occurred_at", "file_id", "loaded_at",
                 "sg_message_id"]


def event_key(ev: dict) -> str:
    sg = ev.get("sg_event_id")
    if isinstance(sg, str) and sg.strip():
        return sg.strip()[:128]
    raw = f"{ev.get('send_key') or ev.get('survey_id') or ev.get('email')}|{ev.get('event')}|{ev.get('timestamp')}"
    return "h:" + hashlib.sha256(raw.encode()).hexdigest()[:32]


def _text(v) -> str | None:  # noqa: ANN001
    if v is None:
        return None
    s = str(v).strip()
    return s or None


def parse_batch(data: bytes) -> list:
    """The event objects of a batch; RejectedFileError when the file is not a JSON array."""
    if not data.strip():
        raise RejectedFileError("the file is empty (expected a JSON array of SendGrid events)")
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
    try:
        payload = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise RejectedFileError(f"the file is not valid UTF-8 (byte at position {err.start + 1})") from None
    except ValueError as err:
        raise RejectedFileError(f"the file is not valid JSON: {err}") from None
    if isinstance(payload, dict):
        payload = [payload]  # a single event posted on its own
    if not isinstance(payload, list):
        raise RejectedFileError(f"expected a JSON array of SendGrid events, got a JSON {type(payload).__name__}")
    return payload


def normalise(ev, position: int) -> tuple[dict | None, str | None, str | None]:  # noqa: ANN001
    """(row, None, None) for a good event, or (None, rule, reason) for a malformed one."""
    if not isinstance(ev, dict):
        return None, "event_format", f"event {position} is a JSON {type(ev).__name__}, not an object"
    custom = ev.get("custom_args") if isinstance(ev.get("custom_args"), dict) else {}
    ev = {**custom, **ev}
    kind = _text(ev.get("event"))
    if kind is None:
        return None, "event_missing", "the event type is missing"
    kind = kind.lower()
    if kind not in EVENT_TYPES:
        return None, "event_unknown", f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})"
    ts = ev.get("timestamp")
    try:
        if isinstance(ts, bool) or ts is None:
            raise ValueError
        occurred = datetime.fromtimestamp(float(ts), UTC).replace(tzinfo=None)
    except (ValueError, TypeError, OverflowError, OSError):
        return None, "event_timestamp", f"timestamp {ts!r} is not a Unix time in seconds"
    email = _text(ev.get("email"))
    if kind in SUPPRESSING and email is None and not (_text(ev.get("survey_id")) or _text(ev.get("send_key"))):
        # The response page records an unsubscribe by survey only; the ledger names the contact.
        return None, "event_email", f"a {kind} event without an email address or survey cannot suppress anyone"
    row = {
        "event_key": event_key(ev),
        "send_key": _text(ev.get("send_key")),
        "survey_id": _text(ev.get("survey_id")),
        "event": kind,
        "email": email.lower() if email else None,
        "reason": (_text(ev.get("reason")) or _text(ev.get("type")) or "")[:1000] or None,
        "occurred_at": occurred.replace(microsecond=0),
        "sg_message_id": (_text(ev.get("sg_message_id")) or "")[:256] or None,
    }
    return row, None, None


def ingest_event_file(warehouse, landing: Landing, f: LandedFile) -> audit.FileResult:  # noqa: ANN001
    landing.checksum(f)
    r = audit.FileResult(path=f.relpath, kind="events", file_id=f.file_id, checksum=f.checksum, size_bytes=f.size,
                         file_format="json")
    known = audit.known_file(warehouse, f.file_id)
    if known:
        r.status, r.archived_to = "skipped", known["archived_to"]
        log.info("%s (file_id %s) was ingested before; moving it out of the landing area", f.relpath, f.file_id)
        landing.move(f, known["archived_to"] or landing.destination(f, "archive"))
        return r
    r.started_at = now = clock.utcnow()
    with f.open() as fh:
        data = fh.read()
    try:
        events = parse_batch(data)
    except RejectedFileError as err:
        r.status, r.reason = "rejected", str(err)
        r.archived_to = landing.destination(f, "rejected")
        r.finished_at = clock.utcnow()
        with warehouse.begin() as conn:
            audit.write_file_row(warehouse, conn, r)
        log.error("%s rejected whole: %s", f.relpath, err)
        landing.move(f, r.archived_to, reason=f"{f.relpath}: {err}")
        return r
    good: dict[str, dict] = {}
    bad = []
    for pos, ev in enumerate(events, 1):
        row, rule, reason = normalise(ev, pos)
        if row is None:
            original = json.dumps(ev, ensure_ascii=False, default=str)[:200_000]
            bad.append({"file_id": f.file_id, "line_number": pos, "path": f.relpath, "kind": "events",
                        "category": "validation", "rule": rule, "reason": reason,
                        "survey_id": _text(ev.get("survey_id")) if isinstance(ev, dict) else None,
                        "original_line": original, "quarantined_at": now})
            r.rules[rule] = r.rules.get(rule, 0) + 1
        elif row["event_key"] in good:
            r.rows_duplicate += 1  # the webhook sent it twice in one batch
        else:
            good[row["event_key"]] = row
    r.rows_read = len(events)
    r.rows_quarantined = len(bad)
    with warehouse.begin() as conn:
        audit.reset_file(warehouse, conn, f.file_id, "events")
        if bad:
            qf = pd.DataFrame(bad)
            qf["quarantined_at"] = qf["quarantined_at"].astype("datetime64[us]")
            audit.load_quarantine(warehouse, conn, qf)
        if good:
            df = pd.DataFrame(list(good.values()))
            df["file_id"], df["loaded_at"] = f.file_id, now
            for c in ("occurred_at", "loaded_at"):
                df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
            for c in ("send_key", "survey_id", "email", "reason", "sg_message_id"):
                df[c] = df[c].astype(object).where(df[c].notna(), None)
            warehouse.run_file(conn, "ingest/stage_events")
            warehouse.run_file(conn, "ingest/clear_stage_events")
            warehouse.load_df(conn, "ingest_stage_events", df, EVENT_COLUMNS)
            sql = warehouse.read_sql("ingest/count_existing_events").rstrip().rstrip(";")
            already = int(conn.execute(sa.text(sql)).scalar() or 0)
            warehouse.run_file(conn, "ingest/insert_email_events")
            r.rows_duplicate += already
            r.rows_loaded = len(df) - already
            warehouse.run_file(conn, "ingest/update_delivery_status", {"file_id": f.file_id})
            warehouse.run_file(conn, "ingest/upsert_suppressions", {"file_id": f.file_id, "source": f.relpath})
        r.archived_to = landing.destination(f, "archive")
        r.finished_at = clock.utcnow()
        audit.write_file_row(warehouse, conn, r)
    landing.move(f, r.archived_to)
    sup = sum(1 for g in good.values() if g["event"] in SUPPRESSING)
    log.info("%s: %d events read, %d new, %d duplicates, %d malformed, %d suppressing", f.relpath, r.rows_read,
             r.rows_loaded, r.rows_duplicate, r.rows_quarantined, sup)
    return r


@holding
def ingest_events(warehouse, landing: Landing) -> list[audit.FileResult]:  # noqa: ANN001
    """Ingest every event batch waiting in the landing area; one result per file."""
    return [ingest_event_file(warehouse, landing, f) for f in landing.pending("events")]
