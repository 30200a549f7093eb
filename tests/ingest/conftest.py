"""Fixtures for ingestion tests: a ledger of dispatched surveys, a landing folder, a pinned clock."""

from __future__ import annotations

import os
from datetime import datetime

import pandas as pd
import pytest

SECRET = os.environ.get("NPS_TOKEN_SECRET", "test-secret-not-for-production-0123456789")
NOW = datetime(2026, 11, 10, 12, 0, 0)
SENT_AT = datetime(2026, 11, 2, 9, 0, 0)

#: survey_id → (survey_type, contact_id); every one dispatched at SENT_AT
SURVEYS = {
    "S-NPS-1": ("nps", "P0000001"),
    "S-NPS-2": ("nps", "P0000002"),
    "S-NPS-3": ("nps", "P0000003"),
    "S-CSAT-1": ("csat", "P0000004"),
    "S-CES-1": ("ces", "P0000005"),
}


def ledger_frame(surveys: dict[str, tuple[str, str]] = SURVEYS, sent_at: datetime = SENT_AT, status: str = "sent") -> pd.DataFrame:
    rows = []
    for sid, (stype, cid) in surveys.items():
        rows.append({
            "send_key": f"K-{sid}", "survey_id": sid, "run_id": "manual__test", "cycle": "2026-Q4",
            "program": "relationship", "survey_type": stype, "touchpoint": None, "touchpoint_event_id": None,
            "contact_id": cid, "account_id": "A000001", "locale": "en", "status": status, "transport": "outbox",
            "provider_message_id": f"msg-{sid}", "claimed_at": sent_at, "sent_at": sent_at,
            "delivery_status": None, "delivery_updated_at": None,
        })
    df = pd.DataFrame(rows)
    for c in ("claimed_at", "sent_at", "delivery_updated_at"):
        df[c] = pd.to_datetime(df[c]).astype("datetime64[us]")
    return df


def insert_ledger(wh, df: pd.DataFrame) -> None:
    with wh.begin() as conn:
        wh.load_df(conn, "ops.survey_invitations", df)


@pytest.fixture
def ledger(warehouse):
    insert_ledger(warehouse, ledger_frame())
    return warehouse


@pytest.fixture
def signer():
    from nps.tokens import TokenSigner

    return TokenSigner(SECRET)


@pytest.fixture
def landing(tmp_path):
    from nps.ingest.landing import Landing

    lz = Landing(str(tmp_path / "landing"))
    lz.ensure()
    return lz


@pytest.fixture
def fake_now(monkeypatch):
    monkeypatch.setenv("NPS_FAKE_NOW", NOW.isoformat())
    return NOW
