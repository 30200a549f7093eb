"""Incremental mart builds: row for row what a full build of the same data makes, on both engines.

Each scenario: a base history (July to October 2026) built in full as of T1, then the rows of
one kind of change loaded afterwards, then an incremental build as of T2 and a full rebuild of
the same data as of T2; every published mart must be identical, row for row.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from nps import bi, marts
from tests.marts.helpers import Data

T1 = datetime(2026, 11, 2, 5, 30)
T2 = datetime(2026, 11, 25, 5, 30)
LOADED = datetime(2026, 11, 24, 12, 0)  # when the day's new rows arrived (after the T1 build)


def snapshot(wh) -> dict[str, list[tuple]]:
    """Every published mart as a sorted list of rows (NULLs sort first)."""
    out = {}
    for table in marts.MARTS:
        rows = [tuple(r.values()) for r in wh.query(f"SELECT * FROM marts.{table}")]
        out[table] = sorted(rows, key=lambda row: tuple((v is not None, str(v)) for v in row))
    return out


def bi_snapshot(wh) -> dict[str, list[tuple]]:
    """Every mart of the DuckDB BI snapshot file as a sorted list of rows, and its column comments."""
    import duckdb

    con = duckdb.connect()
    con.execute(f"ATTACH '{bi.snapshot_path(wh)}' AS snap (READ_ONLY)")
    out = {}
    for table in marts.MARTS:
        rows = con.execute(f"SELECT * FROM snap.marts.{table}").fetchall()
        out[table] = sorted(rows, key=lambda row: tuple((v is not None, str(v)) for v in row))
    out["comments"] = sorted(con.execute("SELECT table_name, column_name, comment FROM duckdb_columns() "
                                         "WHERE database_name = 'snap' AND comment IS NOT NULL").fetchall())
    con.close()
    return out


def base(d: Data) -> dict[str, str]:
    """Three accounts, five contacts, NPS/CSAT/CES answers from July to October, open invitations."""
    d.account("A1", industry="SaaS", segment="SMB", region="EMEA", arr=10000.0)
    d.account("A2", industry="Retail", segment="Enterprise", region="APAC", arr=50000.0)
    d.account("A3", industry="Fintech", segment="Mid-Market", region="LATAM", arr=20000.0)
    d.contact("A1-C1", "A1", role="decision_maker")
    d.contact("A1-C2", "A1", role="user")
    d.contact("A2-C1", "A2", role="influencer")
    d.contact("A2-C2", "A2", role="user")
    d.contact("A3-C1", "A3", role="user", locale="pl")
    h: dict[str, str] = {}
    scores = {"A1-C1": [10, 9, 6, 8], "A1-C2": [3, 7, 10, 9], "A2-C1": [9, 9, 2, 10], "A2-C2": [6, 10, 8, 5],
              "A3-C1": [10, 4, 9, 7]}
    for contact, by_month in scores.items():
        for month, score in zip((7, 8, 9, 10), by_month, strict=True):
            at = datetime(2026, month, 8 + month, 10, 0)
            h[f"nps {contact} {month}"] = d.answer(contact, "nps", score, at,
                                                   comment="Support was slow" if score < 7 else None)
    h["csat A2-C1 9"] = d.answer("A2-C1", "csat", 4, datetime(2026, 9, 3, 12), program="transactional",
                                 touchpoint="support_ticket_closed")
    h["csat A1-C2 10"] = d.answer("A1-C2", "csat", 2, datetime(2026, 10, 21, 12), program="transactional",
                                  touchpoint="support_ticket_closed")
    h["ces A3-C1 8"] = d.answer("A3-C1", "ces", 6, datetime(2026, 8, 30, 9), program="transactional",
                                touchpoint="purchase")
    # Open invitations: one answered late (September), one that bounces later (October).
    h["open sept"] = d.invite("A2-C2", "nps", datetime(2026, 9, 18, 9))
    h["open oct"] = d.invite("A3-C1", "csat", datetime(2026, 10, 26, 9), program="transactional",
                             touchpoint="purchase", delivery_status=None)
    return h


def late_answers(d: Data, wh, h: dict[str, str]) -> None:
    """A September answer arriving in November: September, and October's comparison, change."""
    d.respond(h["open sept"], 2, datetime(2026, 9, 20, 10), loaded_at=LOADED)


def changed_answers(d: Data, wh, h: dict[str, str]) -> None:
    """People re-answering: one moves from October to November, one stays in August."""
    d.respond(h["nps A1-C2 10"], 2, datetime(2026, 11, 10, 10), loaded_at=LOADED)
    d.respond(h["nps A2-C1 8"], 0, datetime(2026, 8, 20, 10), loaded_at=LOADED, comment="Pricing got expensive")


def deleted_contacts(d: Data, wh, h: dict[str, str]) -> None:
    """The only decision maker is deleted: role 'decision_maker' goes, '(unknown)' comes."""
    with wh.begin() as conn:
        wh.run_sql(conn, "DELETE FROM src.contacts WHERE contact_id = 'A1-C1'")


def churned_accounts(d: Data, wh, h: dict[str, str]) -> None:
    """A3 churns mid-November; A2 changes industry and ARR."""
    with wh.begin() as conn:
        wh.run_sql(conn, "UPDATE src.contracts SET end_date = DATE '2026-11-15', ended_reason = 'churned' "
                         "WHERE account_id = 'A3'")
        wh.run_sql(conn, "UPDATE src.accounts SET industry = 'Telecommunications', arr = 60000 WHERE account_id = 'A2'")


def contract_changes(d: Data, wh, h: dict[str, str]) -> None:
    """A3's contract end recorded late (back-dated to September 30), a new account that started in
    October: retention from late September on and both accounts' churn-risk rows change."""
    with wh.begin() as conn:
        wh.run_sql(conn, "UPDATE src.contracts SET end_date = DATE '2026-09-30', ended_reason = 'churned' "
                         "WHERE account_id = 'A3'")
    d.account("A5", industry="SaaS", segment="SMB", region="EMEA", arr=7000.0, start=date(2026, 10, 5))


def moved_contact(d: Data, wh, h: dict[str, str]) -> None:
    """A1-C2 moves to A2 and answers there: its latest NPS answer leaves A1 (churn risk of both)."""
    with wh.begin() as conn:
        wh.run_sql(conn, "UPDATE src.contacts SET account_id = 'A2' WHERE contact_id = 'A1-C2'")
    next(c for c in d.contacts if c["contact_id"] == "A1-C2")["account_id"] = "A2"
    d.answer("A1-C2", "nps", 1, datetime(2026, 11, 20, 9))


def new_email_events(d: Data, wh, h: dict[str, str]) -> None:
    """A bounce of an October invitation, reported in November."""
    d.event(h["open oct"], "bounce", datetime(2026, 10, 26, 9, 5), loaded_at=LOADED)


def new_answers(d: Data, wh, h: dict[str, str]) -> None:
    """A day's new invitations and answers in November, one from a new industry."""
    d.account("A4", industry="Hospitality", segment="SMB", region="EMEA", arr=5000.0, start=date(2026, 11, 1))
    d.contact("A4-C1", "A4", role="influencer")
    d.answer("A4-C1", "nps", 10, datetime(2026, 11, 23, 9))
    d.answer("A1-C1", "nps", 9, datetime(2026, 11, 23, 10))
    d.invite("A2-C2", "ces", datetime(2026, 11, 23, 11), program="transactional", touchpoint="renewal")


SCENARIOS = {
    "late_answers": [late_answers],
    "changed_answers": [changed_answers],
    "deleted_contacts": [deleted_contacts],
    "churned_accounts": [churned_accounts],
    "new_email_events": [new_email_events],
    "new_answers": [new_answers],
    "contract_changes": [contract_changes],
    "moved_contact": [moved_contact],
    "all_at_once": [late_answers, changed_answers, deleted_contacts, churned_accounts, new_email_events, new_answers,
                    contract_changes],
}
#: Surveys the incremental build recomputes, counted by hand: the changed survey itself, plus
#: every invitation of a changed account (A2: 4 NPS + 1 CSAT + open September; A4 new: 1) and
#: every counted answer of a contact whose role changed (A1-C1: 4).
CHANGED = {
    "late_answers": 1,
    "changed_answers": 2,
    "deleted_contacts": 4,
    "churned_accounts": 10,  # A2's invitations: 8 NPS (2 contacts x 4 months) + 1 CSAT + open September
    "new_email_events": 1,
    "new_answers": 3,  # A4's answer (A4 is also a new account: the same survey), A1-C1's answer, the CES invitation
    "contract_changes": 0,  # contracts touch no survey (A5 is a new account without invitations)
    "moved_contact": 1,  # the new answer (the contact's role is unchanged)
    "all_at_once": 1 + 2 + 4 + 10 + 1 + 3 - 2,  # overlaps: the late and one re-answered survey are A2's
}


def published_state(wh) -> dict:
    return marts.build_state(wh, marts.published_schema(wh))


def _build_and_compare(wh, program_config, scenario: str, *, in_place: bool) -> None:
    d = Data()
    h = base(d)
    d.load(wh)
    marts.rebuild(wh, T1, program_config)
    first = published_state(wh)
    assert first["mode"] == "full" and "no complete build record" in first["reason"]
    before = snapshot(wh)
    if in_place:
        # Yesterday's build, with nothing new: copies the first build into the other schema. From
        # then on every build has a base of its own (the build before the published one).
        marts.rebuild(wh, T1, program_config)
        state = published_state(wh)
        assert (state["mode"], state["changed_surveys"]) == ("incremental", 0) and "copying" in state["reason"]
        assert snapshot(wh) == before

    mark = d.mark()
    for change in SCENARIOS[scenario]:
        change(d, wh, h)
    d.load(wh, since=mark)
    staging = marts.staging_schema(wh)
    copy = bi.private_copy(bi.snapshot_path(wh), staging) if wh.is_duckdb else None
    copied = copy.stat().st_ino if copy is not None and in_place else None
    marts.rebuild(wh, T2, program_config)
    state = published_state(wh)
    assert (state["mode"], state["changed_surveys"]) == ("incremental", CHANGED[scenario])
    assert ("in place" if in_place else "copying the rest from") in state["reason"]
    incremental = snapshot(wh)
    # The sources as this build saw them, for the next build to compare against; in place only
    # the rows found changed were rewritten (increments/save_state.sql), the rest already matched.
    schema = marts.published_schema(wh)
    for saved, source in (
        ("ops.mart_build_accounts", "src.accounts"), ("ops.mart_build_roles", "src.contacts"),
        ("ops.mart_build_spans", "ops.mart_account_spans"),
    ):
        columns = {"src.accounts": "account_id, name, industry, segment, region, arr, owner_name",
                   "src.contacts": "contact_id, role",
                   "ops.mart_account_spans": "account_id, first_start, lost_on"}[source]
        kept = wh.query(f"SELECT {columns} FROM {saved} WHERE build_schema = :s ORDER BY 1", {"s": schema})
        now = wh.query(f"SELECT {columns} FROM {source} ORDER BY 1")
        assert kept == now and now, f"{scenario}: {saved} differs from {source}"
    if wh.is_duckdb:
        # The BI snapshot followed the build: in place, its copy of the schema (the file published
        # two builds ago) was updated with the recomputed rows and linked over the snapshot path.
        path = bi.snapshot_path(wh)
        assert path.stat().st_ino == copy.stat().st_ino
        assert (copy.stat().st_ino == copied) is in_place
        bi_incremental = bi_snapshot(wh)
        assert {t: bi_incremental[t] for t in marts.MARTS} == incremental

    marts.rebuild(wh, T2, program_config, full_rebuild=True)
    assert published_state(wh)["mode"] == "full"
    full = snapshot(wh)
    for table in marts.MARTS:
        assert incremental[table] == full[table], f"{scenario}: {table} differs between incremental and full"
    assert incremental != before
    if wh.is_duckdb:
        bi_full = bi_snapshot(wh)  # written whole after the full rebuild
        assert bi_incremental == bi_full and bi_full["comments"]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_incremental_build_in_place_equals_full_build(warehouse, program_config, scenario, monkeypatch):
    """The daily case: the staging schema holds the build before the published one."""
    monkeypatch.setattr(marts, "RISK_ALL_SHARE", 100.0)  # churn risk sliced however many accounts changed
    _build_and_compare(warehouse, program_config, scenario, in_place=True)


def test_incremental_build_copying_from_the_published_build_equals_full_build(warehouse, program_config, monkeypatch):
    """The first incremental build after a full one: the other schema has no build of its own."""
    monkeypatch.setattr(marts, "RISK_ALL_SHARE", 0.0)  # and churn risk rebuilt whole (most accounts changed)
    _build_and_compare(warehouse, program_config, "all_at_once", in_place=False)


def _nps(wh, grain: str, start: date, dimension: str = "all", value: str = "all") -> tuple:
    rows = wh.query("SELECT responses, nps, prev_responses, prev_nps FROM marts.mart_nps WHERE period_grain = :g "
                    "AND period_start = :s AND dimension = :d AND dimension_value = :v",
                    {"g": grain, "s": start, "d": dimension, "v": value})
    return tuple(rows[0].values()) if rows else None


def test_a_late_answer_updates_its_month_and_the_next_months_comparison(warehouse, program_config):
    d = Data()
    h = base(d)
    d.load(warehouse)
    marts.rebuild(warehouse, T1, program_config)
    # August 9, 7, 9, 10, 4: 3 promoters, 1 detractor = 40; September 6, 10, 2, 8, 9: 2 and 2 = 0;
    # October 8, 9, 10, 5, 7: 2 and 1 = 20.
    assert _nps(warehouse, "month", date(2026, 9, 1)) == (5, 0, 5, 40)
    assert _nps(warehouse, "month", date(2026, 10, 1)) == (5, 20, 5, 0)
    mark = d.mark()
    late_answers(d, warehouse, h)
    d.load(warehouse, since=mark)
    marts.rebuild(warehouse, T2, program_config)
    assert published_state(warehouse)["mode"] == "incremental"
    # A 2 from A2-C2: 2 promoters, 3 detractors of 6 -> -16.67; October's previous period follows.
    assert _nps(warehouse, "month", date(2026, 9, 1)) == (6, Decimal("-16.67"), 5, 40)
    assert _nps(warehouse, "month", date(2026, 10, 1)) == (5, 20, 6, Decimal("-16.67"))
    assert _nps(warehouse, "quarter", date(2026, 7, 1))[0] == 16


def test_fingerprint_change_forces_a_full_rebuild(warehouse, program_config, monkeypatch):
    d = Data()
    base(d)
    d.load(warehouse)
    marts.rebuild(warehouse, T1, program_config)
    assert marts.plan_build(warehouse, T2, program_config)["mode"] == "incremental"
    # The config feeding the marts: one more theme keyword.
    config = program_config.model_copy(deep=True)
    config.themes["support"]["en"] = [*config.themes["support"]["en"], "slow"]
    plan = marts.plan_build(warehouse, T2, config)
    assert plan["mode"] == "full" and "fingerprint" in plan["reason"]
    marts.rebuild(warehouse, T2, config)
    assert published_state(warehouse)["mode"] == "full"
    assert marts.plan_build(warehouse, T2, config)["mode"] == "incremental"  # the new build is the reference
    # The mart logic: any SQL file or macro of include/sql/marts (here: the logic version).
    monkeypatch.setattr(marts, "INCREMENTAL_VERSION", "changed")
    plan = marts.plan_build(warehouse, T2, config)
    assert plan["mode"] == "full" and "fingerprint" in plan["reason"]


def test_full_rebuild_param_and_unsafe_changes_force_a_full_rebuild(warehouse, program_config):
    d = Data()
    h = base(d)
    d.load(warehouse)
    marts.rebuild(warehouse, T1, program_config)
    plan = marts.plan_build(warehouse, T2, program_config, full_rebuild=True)
    assert plan["mode"] == "full" and "full_rebuild" in plan["reason"]
    assert marts.plan_build(warehouse, T1 - timedelta(days=1), program_config)["mode"] == "full"  # an earlier as_of
    # An answer loaded with a stamp before the published build's watermark cannot be seen by
    # the watermark: the counts at or below it differ, so the next build is full.
    d.respond(h["open sept"], 9, datetime(2026, 9, 20, 10), loaded_at=datetime(2026, 9, 20, 11))
    d.load(warehouse, since={**d.mark(), "ops.raw_responses": len(d.responses) - 1})
    plan = marts.plan_build(warehouse, T2, program_config)
    assert plan["mode"] == "full" and "responses_count: 23 then, 24 now" in plan["reason"]
    marts.rebuild(warehouse, T2, program_config)
    assert _nps(warehouse, "month", date(2026, 9, 1))[0] == 6


def window_history(d: Data, wh) -> None:
    """History whose churn risk and retention move with the build date alone (no new rows): an
    answer and a low CSAT that leave the 180-day look-back window, relationship cycles whose last
    invitation leaves the 14-day grace period, a detractor case that becomes overdue, a contract
    that ends and one that starts between the builds."""
    d.contact("A3-C2", "A3", role="decision_maker")
    d.answer("A3-C2", "nps", 3, datetime(2026, 5, 15, 10))  # in the window as of T1, out of it by T2
    d.answer("A2-C2", "csat", 1, datetime(2026, 5, 20, 10), program="transactional", touchpoint="purchase")
    d.account("A6", industry="Retail", arr=30000.0, start=date(2025, 3, 1), end=date(2026, 11, 12), reason="churned")
    d.contact("A6-C1", "A6", role="decision_maker")
    d.answer("A6-C1", "nps", 9, datetime(2026, 9, 9, 10), cycle="K0")
    d.account("A7", industry="SaaS", arr=8000.0, start=date(2026, 11, 16))  # a contract signed ahead of its start
    d.contact("A7-C1", "A7", role="user")
    d.answer("A7-C1", "nps", 6, datetime(2026, 4, 2, 10), cycle="K0")
    # A7: cycle K0 answered (April), K1 (June) and K2 (October 30) never answered: as of T1 K2 is
    # within the grace period (the last two: K1, K0), from November 13 on it is not (K2, K1).
    d.invite("A7-C1", "nps", datetime(2026, 6, 1, 9), cycle="K1")
    d.invite("A7-C1", "nps", datetime(2026, 10, 30, 9), cycle="K2")
    d.invite("A6-C1", "nps", datetime(2026, 10, 25, 9), cycle="K1")
    d.invite("A6-C1", "nps", datetime(2026, 10, 28, 9), cycle="K2")


def _open_case(wh, survey_id: str, account_id: str, contact_id: str, due_at: datetime) -> None:
    with wh.begin() as conn:
        wh.run_sql(conn, "INSERT INTO ops.followup_cases (case_id, survey_id, account_id, contact_id, survey_type, "
                         "score, category, status, opened_at, due_at, escalation_level, updated_at) VALUES "
                         "(:c, :s, :a, :p, 'nps', 3, 'detractor', 'open', :o, :d, 0, :o)",
                   {"c": f"case/{survey_id}", "s": survey_id, "a": account_id, "p": contact_id,
                    "o": datetime(2026, 10, 20, 10), "d": due_at})


@pytest.mark.parametrize("days", [
    pytest.param([T1 + timedelta(days=1)], id="next-day"),
    pytest.param([T1 + timedelta(days=8), T1 + timedelta(days=12), T1 + timedelta(days=15)], id="daily-builds"),
    pytest.param([T2], id="three-weeks"),
])
def test_the_window_moving_with_no_new_data_equals_full_build(warehouse, program_config, days, monkeypatch):
    """Nothing loaded after the first build: churn risk's windows, the contract spans and an SLA
    deadline move with the build date alone, and the incremental builds follow them."""
    monkeypatch.setattr(marts, "RISK_ALL_SHARE", 100.0)  # churn risk sliced however many accounts changed
    d = Data()
    h = base(d)
    window_history(d, warehouse)
    d.load(warehouse)
    _open_case(warehouse, h["nps A2-C1 9"], "A2", "A2-C1", datetime(2026, 11, 8, 12))
    marts.rebuild(warehouse, T1, program_config)
    marts.rebuild(warehouse, T1, program_config)  # yesterday's build: from now on in place
    before = snapshot(warehouse)
    for as_of in days:
        marts.rebuild(warehouse, as_of, program_config)
        assert published_state(warehouse)["mode"] == "incremental"
    incremental = snapshot(warehouse)
    marts.rebuild(warehouse, days[-1], program_config, full_rebuild=True)
    full = snapshot(warehouse)
    for table in marts.MARTS:
        assert incremental[table] == full[table], f"{days}: {table} differs between incremental and full"
    assert incremental["mart_churn_risk"] != before["mart_churn_risk"]
    if days[-1] >= T1 + timedelta(days=15):
        risk = {r["account_id"]: r for r in warehouse.query("SELECT * FROM marts.mart_churn_risk")}
        assert "A6" not in risk and "A7" in risk  # A6's contract ended on November 12, A7's began on the 16th
        assert risk["A7"]["no_answer_two_cycles"] and risk["A2"]["overdue_detractor_case"]
        assert not risk["A2"]["low_csat"]  # its only low CSAT (May 20) left the window
