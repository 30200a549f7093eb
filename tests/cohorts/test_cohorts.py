"""Cohort selection on hand-built data, on DuckDB and PostgreSQL."""

from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime

import pytest

from nps.cohorts import CohortError, calendar, interval_days, select_cohort, slot_day
from tests.cohorts.helpers import account, config, contact, contact_ids, contract, event, ledger, load

START, END = datetime(2026, 10, 5, 6), datetime(2026, 10, 6, 6)
DAY_INDEX = 4  # 2026-10-05 in the quarter that starts 2026-10-01 (92 days)


def _reasons(wh) -> dict[tuple[str, str], str]:
    rows = wh.query("SELECT contact_id, program, reason FROM ops.cohort_candidates WHERE interval_start = :s", {"s": START})
    return {(r["contact_id"], r["program"]): r["reason"] for r in rows}


@pytest.fixture
def scenario(warehouse):
    """Every rule at once; the expected reason of each candidate is written next to it."""
    r1, r2, r3, r4, r5, r6, d1 = contact_ids(DAY_INDEX, 92, 7, due=True)
    n1, n2, n3, m1, m2, m3, m4, m5 = contact_ids(DAY_INDEX, 92, 8, due=False)
    load(warehouse, "src.accounts", [account("A1"), account("A2"), account("A3")])
    load(warehouse, "src.contracts", [
        contract("C1", "A1", date(2026, 1, 1)),
        contract("C2", "A2", date(2025, 1, 1), date(2026, 1, 1), "churned"),  # A2 churned before the day
        contract("C3", "A3", date(2026, 3, 1)),
    ])
    load(warehouse, "src.contacts", [
        contact(r1, "A1", "decision_maker"),  # relationship: selected
        contact(r2, "A1", "influencer"),      # relationship selected; its ticket: relationship_wins
        contact(r3, "A1", consent=False),     # no_consent
        contact(r4, "A1"),                    # suppressed (by email, any case)
        contact(r5, "A1"),                    # fatigue: a CSAT 10 days ago (any survey, 14 days)
        contact(r6, "A1"),                    # fatigue: relationship NPS 77 days ago (90 days)
        contact(n1, "A1"),                    # ticket closed: selected (A1 now at its cap of 3)
        contact(n2, "A1"),                    # ticket closed, but a CES 20 days ago: fatigue (30 days)
        contact(n3, "A1"),                    # ticket closed too early for today: not a candidate
        contact(d1, "A2", "decision_maker"),  # churned account
        contact(m1, "A3", "decision_maker"),  # onboarding (account-level): selected
        contact(m2, "A3", "influencer"),      # selected (A3 had 1 survey this quarter: 1 + 2 = cap)
        contact(m3, "A3", "influencer"),      # account_cap
        contact(m4, "A3", "influencer"),      # account_cap
        contact(m5, "A3", "user"),            # users are not surveyed for account-level events
    ])
    load(warehouse, "src.touchpoint_events", [
        event("E1", "A1", r2, "support_ticket_closed", datetime(2026, 10, 4, 10)),
        event("E2", "A1", n1, "support_ticket_closed", datetime(2026, 10, 4, 12)),
        event("E3", "A1", n2, "support_ticket_closed", datetime(2026, 10, 4, 7)),
        event("E4", "A1", n3, "support_ticket_closed", datetime(2026, 10, 3, 12)),
        event("E5", "A3", None, "onboarding_completed", datetime(2026, 10, 2, 9)),
        event("E6", "A3", m1, "support_ticket_closed", datetime(2026, 10, 4, 8)),  # m1's later event: collapsed
        event("E7", "A3", None, "onboarding_completed", datetime(2026, 10, 1, 9)),  # due yesterday
    ])
    load(warehouse, "ops.suppressions", [
        {"email": f"{r4.upper()}@A1.EXAMPLE.COM", "reason": "unsubscribe", "contact_id": None, "source": "test",
         "occurred_at": datetime(2026, 9, 1)}])
    load(warehouse, "ops.survey_invitations", [
        ledger("t/csat/x/" + r5, r5, "A1", "transactional", "csat", date(2026, 9, 25)),
        ledger("r/nps/x/" + r6, r6, "A1", "relationship", "nps", date(2026, 7, 20)),
        ledger("t/ces/x/" + n2, n2, "A1", "transactional", "ces", date(2026, 9, 15)),
        ledger("r/nps/x/" + m5, m5, "A3", "relationship", "nps", date(2026, 10, 1)),
        ledger("r/nps/y/" + m4, m4, "A3", "relationship", "nps", date(2026, 10, 2), status="failed"),  # never counts
    ])
    ids = dict(r1=r1, r2=r2, r3=r3, r4=r4, r5=r5, r6=r6, d1=d1, n1=n1, n2=n2, n3=n3, m1=m1, m2=m2, m3=m3, m4=m4, m5=m5)
    return warehouse, ids


def test_every_rule_and_its_count(scenario):
    wh, c = scenario
    summary = select_cohort(wh, config(), START, END, "manual__1")
    R, T = "relationship", "transactional"
    assert _reasons(wh) == {
        (c["r1"], R): "selected",
        (c["r2"], R): "selected",
        (c["r2"], T): "relationship_wins",
        (c["r3"], R): "no_consent",
        (c["r4"], R): "suppressed",
        (c["r5"], R): "fatigue",
        (c["r6"], R): "fatigue",
        (c["d1"], R): "churned",
        (c["n1"], T): "selected",
        (c["n2"], T): "fatigue",
        (c["m1"], T): "selected",
        (c["m2"], T): "selected",
        (c["m3"], T): "account_cap",
        (c["m4"], T): "account_cap",
    }
    assert (summary.due, summary.due_relationship, summary.due_transactional) == (14, 7, 7)
    assert (summary.churned, summary.no_consent, summary.suppressed, summary.fatigue) == (1, 1, 1, 3)
    assert (summary.relationship_wins, summary.account_cap, summary.selected) == (1, 2, 5)
    assert summary.line() == (
        "14 due, 1 skipped as churned, 1 without consent, 1 suppressed, 3 skipped for fatigue, "
        "1 transactional skipped (relationship wins), 2 over the account cap, 5 selected"
    )
    row = wh.query(
        "SELECT send_key, survey_id, survey_type, touchpoint, touchpoint_event_id, cycle, cohort_date "
        "FROM ops.cohort_candidates WHERE contact_id = :c", {"c": c["m1"]})[0]
    # the earliest of m1's two events wins; send key and survey id are deterministic
    assert row["send_key"] == f"transactional/csat/2026-Q4/{c['m1']}/E5"
    assert (row["survey_type"], row["touchpoint"], row["cycle"], row["cohort_date"]) == ("csat", "onboarding_completed", "2026-Q4", date(2026, 10, 5))
    import hashlib

    assert row["survey_id"] == "S" + hashlib.md5(row["send_key"].encode()).hexdigest()[:24]


def test_rerun_of_the_same_interval_reuses_the_cohort(scenario):
    wh, c = scenario
    first = select_cohort(wh, config(), START, END, "scheduled__1")
    before = _reasons(wh)
    # New data arrives after the first selection: a rerun of the interval must not change its cohort.
    load(wh, "src.touchpoint_events", [event("E9", "A1", c["n3"], "support_ticket_closed", datetime(2026, 10, 4, 9))])
    again = select_cohort(wh, config(), START, END, "manual__2")
    assert again.reused and not first.reused
    assert (again.run_id, again.due, again.selected) == ("scheduled__1", 14, 5)
    assert _reasons(wh) == before
    fresh = select_cohort(wh, config(), START, END, "manual__3", reselect=True)
    assert (fresh.due, fresh.selected, fresh.account_cap) == (15, 5, 3)  # n3 selected; A1 now over its cap


def test_relationship_surveys_spread_over_the_cycle(warehouse):
    ids = [f"Q{i:04d}" for i in range(1, 301)]
    load(warehouse, "src.accounts", [account(f"A{i}") for i in range(30)])
    load(warehouse, "src.contracts", [contract(f"C{i}", f"A{i}", date(2026, 1, 1)) for i in range(30)])
    load(warehouse, "src.contacts", [contact(cid, f"A{i % 30}") for i, cid in enumerate(ids)])
    for day in (1, 2, 3):
        start = datetime(2026, 10, day, 6)
        select_cohort(warehouse, config(), start, datetime(2026, 10, day + 1, 6), f"r{day}")
        got = {r["contact_id"] for r in warehouse.query(
            "SELECT contact_id FROM ops.cohort_candidates WHERE interval_start = :s AND reason = 'selected'", {"s": start})}
        assert got == {cid for cid in ids if slot_day(cid, 92) == day - 1}


def _slots(wh) -> dict[str, int]:
    """The stored slot hashes: ops.contact_slots on DuckDB, ops.cohort_contacts on PostgreSQL."""
    table = "ops.contact_slots" if wh.is_duckdb else "ops.cohort_contacts"
    return {r["contact_id"]: r["slot_hash"] for r in wh.query(f"SELECT contact_id, slot_hash FROM {table}")}


def test_contact_slots_are_computed_once_per_contact_and_match_python(warehouse):
    """Slots are stored for new contacts only; the SQL hash is nps.cohorts.slot_day's."""
    load(warehouse, "src.accounts", [account("A1")])
    load(warehouse, "src.contracts", [contract("C1", "A1", date(2026, 1, 1))])
    first = [f"Q{i:04d}" for i in range(1, 51)]
    load(warehouse, "src.contacts", [contact(cid, "A1") for cid in first])
    select_cohort(warehouse, config(), datetime(2026, 10, 1, 6), datetime(2026, 10, 2, 6), "r1")
    slots = _slots(warehouse)
    assert slots == {cid: int(hashlib.md5(cid.encode()).hexdigest()[:6], 16) for cid in first}
    assert all(slots[cid] % 92 == slot_day(cid, 92) for cid in first)
    # A stored hash is never recomputed (a tampered one stays), a new contact gets its own.
    table = "ops.contact_slots" if warehouse.is_duckdb else "ops.cohort_contacts"
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, f"UPDATE {table} SET slot_hash = 7 WHERE contact_id = 'Q0001'")
    load(warehouse, "src.contacts", [contact("N0001", "A1")])
    select_cohort(warehouse, config(), datetime(2026, 10, 2, 6), datetime(2026, 10, 3, 6), "r2")
    again = _slots(warehouse)
    assert len(again) == 51 and again["Q0001"] == 7
    assert again["N0001"] == int(hashlib.md5(b"N0001").hexdigest()[:6], 16)


def test_a_contact_missing_from_contact_slots_is_still_surveyed_on_its_slot_day(warehouse):
    """DuckDB's slot table is a cache refreshed when the counts differ: one contact deleted and one
    added leave the counts equal, and the new contact is still hashed (in the view) and surveyed.
    PostgreSQL's ops.cohort_contacts follows both at once."""
    load(warehouse, "src.accounts", [account("A1")])
    load(warehouse, "src.contracts", [contract("C1", "A1", date(2026, 1, 1))])
    load(warehouse, "src.contacts", [contact(cid, "A1") for cid in ("Q0001", "Q0002")])
    select_cohort(warehouse, config(), datetime(2026, 9, 20, 6), datetime(2026, 9, 21, 6), "r0")
    assert set(_slots(warehouse)) == {"Q0001", "Q0002"}
    with warehouse.begin() as conn:  # Q0002 leaves, N0099 (slot day 2 of 92) arrives
        warehouse.run_sql(conn, "DELETE FROM src.contacts WHERE contact_id = 'Q0002'")
    load(warehouse, "src.contacts", [contact("N0099", "A1")])
    assert slot_day("N0099", 92) == 2
    select_cohort(warehouse, config(), datetime(2026, 10, 3, 6), datetime(2026, 10, 4, 6), "r1")
    selected = {r["contact_id"] for r in warehouse.query(
        "SELECT contact_id FROM ops.cohort_candidates WHERE interval_start = :s AND reason = 'selected'",
        {"s": datetime(2026, 10, 3, 6)})}
    assert "N0099" in selected
    if warehouse.is_duckdb:
        # Counts equal: the cache was left alone (Q0002's stale row stays until the counts differ).
        assert set(_slots(warehouse)) == {"Q0001", "Q0002"}
    else:
        assert set(_slots(warehouse)) == {"Q0001", "N0099"}
    load(warehouse, "src.contacts", [contact("N0017", "A1")])
    select_cohort(warehouse, config(), datetime(2026, 10, 4, 6), datetime(2026, 10, 5, 6), "r2")
    assert set(_slots(warehouse)) == {"Q0001", "N0099", "N0017"}


def test_cohort_contacts_follow_contact_and_account_changes(warehouse):
    """ops.cohort_contacts (a trigger-kept table on PostgreSQL, a view on DuckDB) follows a contact
    moving account, an account changing industry, changed consent, a deleted account, and the
    tables being emptied and reloaded: the next selection sees each change."""
    weekly_due = contact_ids(0, 7, 3, due=True, prefix="W")  # 2026-10-05 is day 0 of its week
    w1, w2, w3 = weekly_due
    load(warehouse, "src.accounts", [account("A1", "SaaS"), account("A2", "SaaS")])
    load(warehouse, "src.contracts", [contract("C1", "A1", date(2026, 1, 1)), contract("C2", "A2", date(2026, 1, 1))])
    load(warehouse, "src.contacts", [contact(w1, "A1"), contact(w2, "A1"), contact(w3, "A2")])

    def selected(day: int, run: str) -> dict[str, tuple[str, str]]:
        start = datetime(2026, 10, day, 6)
        select_cohort(warehouse, config(), start, datetime(2026, 10, day + 1, 6), run)
        return {r["contact_id"]: (r["industry"], r["reason"]) for r in warehouse.query(
            "SELECT contact_id, industry, reason FROM ops.cohort_candidates WHERE interval_start = :s "
            "AND program = 'relationship'", {"s": start})}

    assert selected(5, "r0") == {}  # SaaS is quarterly: none of them is due on day 4 of the quarter
    with warehouse.begin() as conn:  # A1 becomes a weekly (Hospitality) account; w3 moves to A1
        warehouse.run_sql(conn, "UPDATE src.accounts SET industry = 'Hospitality' WHERE account_id = 'A1'")
        warehouse.run_sql(conn, "UPDATE src.contacts SET account_id = 'A1' WHERE contact_id = :c", {"c": w3})
        warehouse.run_sql(conn, "UPDATE src.contacts SET consent = FALSE WHERE contact_id = :c", {"c": w2})
    assert selected(12, "r1") == {w1: ("Hospitality", "selected"), w2: ("Hospitality", "no_consent"),
                                  w3: ("Hospitality", "selected")}
    with warehouse.begin() as conn:  # A1 is gone: its contacts are nobody's customers any more
        warehouse.run_sql(conn, "DELETE FROM src.accounts WHERE account_id = 'A1'")
    assert selected(19, "r2") == {}
    with warehouse.begin() as conn:  # everything emptied and reloaded, as nps.demo.generator.load_base does
        warehouse.run_sql(conn, "DELETE FROM src.contacts")
        warehouse.run_sql(conn, "DELETE FROM src.accounts")
    load(warehouse, "src.contacts", [contact(w1, "A2")])
    load(warehouse, "src.accounts", [account("A2", "Hospitality")])
    assert selected(26, "r3") == {w1: ("Hospitality", "selected")}
    if not warehouse.is_duckdb:
        rows = warehouse.query("SELECT contact_id, account_id, industry, consent FROM ops.cohort_contacts")
        assert rows == [{"contact_id": w1, "account_id": "A2", "industry": "Hospitality", "consent": True}]
        with warehouse.begin() as conn:
            warehouse.run_sql(conn, "TRUNCATE src.contacts")
        assert warehouse.scalar("SELECT COUNT(*) FROM ops.cohort_contacts") == 0


def test_slot_days_are_even():
    per_day = Counter(slot_day(f"P{i:07d}", 92) for i in range(92 * 200))
    assert len(per_day) == 92
    assert 150 <= min(per_day.values()) and max(per_day.values()) <= 250  # ~200 a day, not all on day one


def test_calendar_windows_and_weekly_cycles():
    days, rules = calendar(config(), datetime(2026, 10, 7, 6), datetime(2026, 10, 8, 6))
    hosp = days[days.industry == "Hospitality"].iloc[0]
    assert (hosp.cycle, hosp.cycle_days, hosp.day_index) == ("2026-W41", 7, 2)
    saas = days[days.industry == "SaaS"].iloc[0]
    assert (saas.rel_lo, saas.rel_hi) == (date(2026, 7, 10), date(2027, 1, 4))  # 89 days either side
    assert (saas.any_lo, saas.any_hi) == (date(2026, 9, 24), date(2026, 10, 20))
    onb = rules[(rules.industry == "SaaS") & (rules.touchpoint == "onboarding_completed")].iloc[0]
    assert (onb.window_start, onb.window_end) == (datetime(2026, 10, 4, 6), datetime(2026, 10, 5, 6))


def test_interval_days_and_bad_intervals():
    assert interval_days(datetime(2026, 10, 5, 6), datetime(2026, 10, 8, 6)) == [date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)]
    with pytest.raises(CohortError, match="empty"):
        interval_days(START, START)
    with pytest.raises(CohortError, match="at most 92"):
        interval_days(datetime(2026, 1, 1), datetime(2026, 6, 1))
