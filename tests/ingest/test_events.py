"""SendGrid event batches: dedupe, delivery state, suppressions, malformed events, on both engines."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.usefixtures("fake_now")
T0 = 1762246800  # 2025-11-04 09:00:00 UTC


def ev(event: str, sid: str, dt: int, email: str, eid: str | None = None, **extra) -> dict:
    e = {"email": email, "timestamp": T0 + dt, "event": event, "send_key": f"K-{sid}", "survey_id": sid,
         "smtp-id": "<x@sendgrid>", "category": ["nps"], **extra}
    if eid:
        e["sg_event_id"] = eid
    return e


def drop(landing, name: str, payload) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    (landing.root / "events" / name).write_bytes(data)


def run(wh, landing):
    from nps.ingest.events import ingest_events

    return ingest_events(wh, landing)


def counts(r) -> tuple:
    return (r.status, r.rows_read, r.rows_loaded, r.rows_quarantined, r.rows_duplicate)


def test_event_batches_with_duplicates(ledger, landing):
    wh = ledger
    batch1 = [
        ev("processed", "S-NPS-1", 0, "Anna@Example.com", "e1"),
        ev("delivered", "S-NPS-1", 5, "anna@example.com", "e2"),
        ev("delivered", "S-NPS-1", 5, "anna@example.com", "e2"),  # webhook retry inside the batch
        ev("open", "S-NPS-1", 60, "anna@example.com", "e3"),
        ev("processed", "S-NPS-2", 0, "bob@example.com", "e4"),
        ev("bounce", "S-NPS-2", 4, "bob@example.com", "e5", reason="550 5.1.1 unknown user", type="bounce"),
        {"email": "cy@example.com", "timestamp": T0 + 9, "event": "unsubscribe", "custom_args": {"survey_id": "S-NPS-3"}},
        {"email": "cy@example.com", "timestamp": T0 + 9, "event": "unsubscribe", "custom_args": {"survey_id": "S-NPS-3"}},
        {"email": "cy@example.com", "event": "open"},                         # no timestamp
        {"email": "cy@example.com", "timestamp": T0, "event": "teleported"},  # unknown type
        {"timestamp": T0, "event": "spamreport"},                             # suppression without an address
        "not an event",
    ]
    drop(landing, "2026-11-04.json", batch1)
    [r1] = run(wh, landing)
    assert counts(r1) == ("loaded", 12, 6, 4, 2)
    # The next batch repeats three events (retries over 24 h) and brings news for S-NPS-2.
    batch2 = [
        ev("delivered", "S-NPS-1", 5, "anna@example.com", "e2"),
        ev("bounce", "S-NPS-2", 4, "bob@example.com", "e5"),
        {"email": "cy@example.com", "timestamp": T0 + 9, "event": "unsubscribe", "custom_args": {"survey_id": "S-NPS-3"}},
        ev("delivered", "S-NPS-2", 30, "bob@example.com", "e6"),  # a later delivered never undoes a bounce
        ev("deferred", "S-CSAT-1", 3, "dee@example.com", "e7"),
        ev("delivered", "S-CSAT-1", 90, "dee@example.com", "e8"),
        ev("spamreport", "S-CSAT-1", 200, "dee@example.com", "e9"),
    ]
    drop(landing, "2026-11-05.json", batch2)
    [r2] = run(wh, landing)
    assert counts(r2) == ("loaded", 7, 4, 0, 3)
    assert wh.scalar("SELECT COUNT(*) FROM ops.email_events") == 10
    status = {x["send_key"]: (x["delivery_status"], str(x["delivery_updated_at"])) for x in wh.query(
        "SELECT send_key, delivery_status, delivery_updated_at FROM ops.survey_invitations")}
    assert status == {
        "K-S-NPS-1": ("delivered", "2025-11-04 09:00:05"),
        "K-S-NPS-2": ("bounce", "2025-11-04 09:00:04"),
        "K-S-NPS-3": (None, "None"),
        "K-S-CSAT-1": ("delivered", "2025-11-04 09:01:30"),
        "K-S-CES-1": (None, "None"),
    }
    sup = wh.query("SELECT email, reason, contact_id, source, occurred_at FROM ops.suppressions ORDER BY email, reason")
    assert [(x["email"], x["reason"], x["contact_id"], x["source"], str(x["occurred_at"])) for x in sup] == [
        ("bob@example.com", "bounce", "P0000002", "events/2026-11-04.json", "2025-11-04 09:00:04"),
        ("cy@example.com", "unsubscribe", "P0000003", "events/2026-11-04.json", "2025-11-04 09:00:09"),
        ("dee@example.com", "spamreport", "P0000004", "events/2026-11-05.json", "2025-11-04 09:03:20"),
    ]
    q = wh.query("SELECT line_number, rule, reason FROM ops.quarantine ORDER BY line_number")
    assert [(x["line_number"], x["rule"], x["reason"]) for x in q] == [
        (9, "event_timestamp", "timestamp None is not a Unix time in seconds"),
        (10, "event_unknown", "unknown event type 'teleported' (known: processed, deferred, delivered, bounce, dropped, "
                              "open, click, spamreport, unsubscribe, group_unsubscribe, group_resubscribe)"),
        (11, "event_email", "a spamreport event without an email address or survey cannot suppress anyone"),
        (12, "event_format", "event 12 is a JSON str, not an object"),
    ]
    # The unsubscribe without sg_event_id got the send key from the ledger and a hash key.
    row = wh.query("SELECT event_key, send_key FROM ops.email_events WHERE event = 'unsubscribe'")[0]
    assert row["send_key"] == "K-S-NPS-3" and row["event_key"].startswith("h:")
    # The same batch dropped again is not read twice.
    drop(landing, "2026-11-05.json", batch2)
    [r3] = run(wh, landing)
    assert counts(r3) == ("skipped", 0, 0, 0, 0)
    assert wh.scalar("SELECT SUM(rows_read) - SUM(rows_loaded + rows_quarantined + rows_duplicate) FROM ops.ingest_files") == 0


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        pytest.param(b"", "the file is empty (expected a JSON array of SendGrid events)", id="empty"),
        pytest.param(b"[{\"event\": ", "the file is not valid JSON: Expecting value: line 1 column 12 (char 11)", id="cut"),
        pytest.param(b"\"hello\"", "expected a JSON array of SendGrid events, got a JSON str", id="string"),
    ],
)
def test_unparseable_batch_is_rejected(ledger, landing, payload, reason):
    drop(landing, "bad.json", payload)
    [r] = run(ledger, landing)
    assert (r.status, r.reason) == ("rejected", reason)
    assert (landing.root / r.archived_to).is_file()
    assert ledger.scalar("SELECT status FROM ops.ingest_files") == "rejected"
