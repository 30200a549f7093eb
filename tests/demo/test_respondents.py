"""Demo respondents: deterministic answers and events that go through the real ingestion path."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pandas as pd
import pytest

SECRET = "test-secret-not-for-production-0123456789"
DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(6)]


def seed_ledger(wh, program_config) -> int:
    """A base of 150 accounts and one sent invitation per contact, spread over the first 3 days."""
    from nps.demo.generator import generate, load_base

    base = generate(program_config, n_accounts=150)
    load_base(wh, base)
    c = base.contacts.merge(base.accounts[["account_id", "industry"]], on="account_id")
    n = len(c)
    types = ["nps", "csat", "ces"]
    sent = [datetime(2026, 9, 1 + i % 3, 6, 5) + timedelta(minutes=i % 60) for i in range(n)]
    df = pd.DataFrame({
        "send_key": [f"K{i:06d}" for i in range(n)], "survey_id": [f"S{i:06d}" for i in range(n)], "run_id": "demo",
        "cycle": "2026-Q3", "program": "relationship", "survey_type": [types[i % 3] for i in range(n)],
        "touchpoint": None, "touchpoint_event_id": None, "contact_id": c["contact_id"].to_numpy(),
        "account_id": c["account_id"].to_numpy(), "locale": c["locale"].to_numpy(), "status": "sent",
        "transport": "outbox", "provider_message_id": None, "claimed_at": sent, "sent_at": sent,
        "delivery_status": None, "delivery_updated_at": None,
    })
    for col in ("claimed_at", "sent_at", "delivery_updated_at"):
        df[col] = pd.to_datetime(df[col]).astype("datetime64[us]")
    with wh.begin() as conn:
        wh.load_df(conn, "ops.survey_invitations", df)
    return n


@pytest.fixture
def demo(warehouse, program_config, tmp_path):
    n = seed_ledger(warehouse, program_config)
    return warehouse, tmp_path / "landing", n


def test_simulated_days_are_deterministic_and_ingest_cleanly(demo, program_config, monkeypatch):
    from nps.demo.respondents import simulate_day
    from nps.ingest.events import ingest_events
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses

    wh, landing, n = demo
    got = [simulate_day(wh, str(landing), d, SECRET) for d in DAYS]
    files = {p.relative_to(landing).as_posix(): p.read_bytes() for p in landing.rglob("*") if p.is_file()}
    again = [simulate_day(wh, str(landing), d, SECRET) for d in DAYS]
    assert again == got
    assert {p.relative_to(landing).as_posix(): p.read_bytes() for p in landing.rglob("*") if p.is_file()} == files
    assert any(name.endswith(".jsonl") for name in files) and any(name.endswith(".csv") for name in files)

    answers = sum(g["responses"] for g in got)
    assert 0.30 * n <= answers <= 0.40 * n, (answers, n)
    bad = sum(g["bad_rows"] for g in got)
    assert 1 <= bad <= 0.03 * answers
    # Answers fall on the day they are filed under, never later than its end.
    for name, data in files.items():
        if name.startswith("responses/") and name.endswith(".csv"):
            day = name.split("/")[1].removesuffix(".csv")
            stamps = [line.split(",")[-2] for line in data.decode().splitlines()[1:] if line.count(",") >= 4]
            assert stamps and all(s.startswith(day) for s in stamps)
    events = [e for name, data in files.items() if name.startswith("events/") for e in json.loads(data)]
    assert len(events) == sum(g["events"] for g in got)
    unique = {e["sg_event_id"]: e for e in events}.values()
    kinds = pd.Series([e["event"] for e in unique]).value_counts()
    assert kinds["processed"] + kinds.get("dropped", 0) == n  # every invitation sent in the window
    assert 0.005 * n <= kinds["bounce"] <= 0.04 * n
    assert len({e["sg_event_id"] + e["event"] for e in events}) < len(events)  # webhook retries

    # Everything enters through the real ingestion path; the bad rows end up in the quarantine.
    monkeypatch.setenv("NPS_FAKE_NOW", "2026-09-07T23:05:00")
    ev = ingest_events(wh, Landing(str(landing)))
    res = ingest_responses(wh, Landing(str(landing)), secret=SECRET, config=program_config)
    assert sum(r.rows_read for r in res) == answers
    assert sum(r.rows_quarantined for r in res) == bad
    assert sum(r.rows_loaded for r in res) == answers - bad
    assert wh.scalar("SELECT COUNT(*) FROM ops.email_events") == len({e["sg_event_id"] for e in events})
    assert sum(r.rows_duplicate for r in ev) == len(events) - len({e["sg_event_id"] for e in events})
    assert wh.scalar("SELECT COUNT(*) FROM ops.suppressions") >= kinds["bounce"]
    # Comments carry the program's themes, in both languages.
    comments = [r["comment"] for r in wh.query("SELECT comment FROM ops.raw_responses WHERE comment IS NOT NULL")]
    assert any("support" in c.lower() or "wsparci" in c.lower() or "obsług" in c.lower() for c in comments)
    assert any(any(ch in c for ch in "ąęłśżźćńó") for c in comments)
