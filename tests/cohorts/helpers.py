"""Hand-built source rows for cohort and dispatch tests."""

from __future__ import annotations

from datetime import date, datetime
from itertools import count

import pandas as pd

from nps.cohorts import slot_day
from nps.config import parse_config

CONFIG = {
    "program": {"name": "Test program", "survey_base_url": "https://f.example.com/s",
                "unsubscribe_url": "https://f.example.com/u"},
    "sender": {"name": "Acme CS", "email": "feedback@example.com", "address": "1 Market St"},
    "industries": {
        "SaaS": {"relationship_cadence": "quarterly",
                 "touchpoints": {"onboarding_completed": {"survey": "csat", "delay_days": 3}}},
        "Hospitality": {"relationship_cadence": "weekly"},
    },
    "common_touchpoints": {"support_ticket_closed": {"survey": "ces", "delay_days": 1}},
    "fatigue": {"relationship_days": 90, "transactional_days": 30, "any_survey_days": 14, "account_cap_per_cycle": 3},
}


def config(**overrides):
    data = {**CONFIG, **overrides}
    return parse_config(data)


def contact_ids(day_index: int, cycle_days: int, n: int, *, due: bool, prefix: str = "P") -> list[str]:
    """Sorted contact ids whose slot day is (or is not) ``day_index`` in a cycle of ``cycle_days``."""
    out = []
    for i in count(1):
        cid = f"{prefix}{i:05d}"
        if (slot_day(cid, cycle_days) == day_index) == due:
            out.append(cid)
            if len(out) == n:
                return out
    raise AssertionError


def load(wh, table: str, rows: list[dict]) -> None:
    with wh.begin() as conn:
        wh.load_df(conn, table, pd.DataFrame(rows))


def account(account_id: str, industry: str = "SaaS", name: str = "Tatra Steel") -> dict:
    return {"account_id": account_id, "name": name, "industry": industry, "segment": "SMB", "region": "EMEA",
            "arr": 1000.0, "owner_name": "Alice", "owner_email": "alice@example.com",
            "created_at": datetime(2025, 1, 1)}


def contract(contract_id: str, account_id: str, start: date, end: date | None = None, reason: str | None = None) -> dict:
    return {"contract_id": contract_id, "account_id": account_id, "start_date": start, "end_date": end,
            "arr": 1000.0, "ended_reason": reason}


def contact(contact_id: str, account_id: str, role: str = "user", *, consent: bool = True, locale: str = "en",
            email: str | None = None, first: str = "Jo") -> dict:
    return {"contact_id": contact_id, "account_id": account_id, "first_name": first, "last_name": contact_id,
            "email": email or f"{contact_id.lower()}@{account_id.lower()}.example.com", "role": role,
            "locale": locale, "consent": consent, "created_at": datetime(2025, 2, 1)}


def event(event_id: str, account_id: str, contact_id: str | None, touchpoint: str, at: datetime) -> dict:
    return {"event_id": event_id, "account_id": account_id, "contact_id": contact_id, "touchpoint": touchpoint,
            "occurred_at": at}


def ledger(send_key: str, contact_id: str, account_id: str, program: str, survey_type: str, day: date,
           status: str = "sent") -> dict:
    return {"send_key": send_key, "survey_id": "S" + send_key.replace("/", "_"), "run_id": "old", "cycle": "old",
            "program": program, "survey_type": survey_type, "contact_id": contact_id, "account_id": account_id,
            "locale": "en", "status": status, "claimed_at": datetime(day.year, day.month, day.day, 6),
            "interval_start": datetime(day.year, day.month, day.day, 6), "cohort_date": day}
