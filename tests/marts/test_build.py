"""Write, audit, publish: staging, the audit, the one-transaction publish, reruns, both engines alike."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nps import mart_docs, marts
from nps.demo.generator import generate, load_base
from nps.warehouse import Warehouse
from tests.marts.helpers import AS_OF, Data, nps_team, view_sources

OCT = datetime(2026, 10, 5, 10)


def snapshot(wh) -> dict[str, list[tuple]]:
    """Every published mart as a sorted list of rows (NULLs sort first)."""
    out = {}
    for table in marts.MARTS:
        rows = [tuple(r.values()) for r in wh.query(f"SELECT * FROM marts.{table}")]
        out[table] = sorted(rows, key=lambda row: tuple((v is not None, str(v)) for v in row))
    return out


def test_failed_check_keeps_previous_marts(warehouse, program_config):
    d = Data()
    nps_team(d, "A1", [10, 10, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    before = snapshot(warehouse)
    published = marts.published_schema(warehouse)
    # An answer whose survey the ledger never sent: the build must not publish.
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, "INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, "
                          "responded_at, locale, file_id, source_line, loaded_at) VALUES ('R-orphan', 'S-ghost', 'nps', "
                          "0, NULL, :t, 'en', 'F9', 7, :t)", {"t": OCT})
        warehouse.run_sql(conn, "INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, "
                          "responded_at, locale, file_id, source_line, loaded_at) SELECT 'R-new', survey_id, 'nps', 0, "
                          "NULL, :t, 'en', 'F9', 8, :t FROM ops.survey_invitations LIMIT 1", {"t": OCT + timedelta(hours=1)})
    with pytest.raises(marts.MartCheckError) as err:
        marts.rebuild(warehouse, AS_OF, program_config)
    assert err.value.check == "orphan_responses" and err.value.count == 1
    assert "S-ghost" in str(err.value) and "R-orphan" in str(err.value) and "orphan_responses" in str(err.value)
    assert snapshot(warehouse) == before and marts.published_schema(warehouse) == published
    marts.publish(warehouse)  # nothing audited: a no-op
    assert snapshot(warehouse) == before and view_sources(warehouse) == {t: published for t in marts.MARTS}
    # Fixed data publishes, and the new answer (latest wins) is in.
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, "DELETE FROM ops.raw_responses WHERE response_id = 'R-orphan'")
    marts.rebuild(warehouse, AS_OF, program_config)
    assert marts.published_schema(warehouse) != published
    assert warehouse.scalar("SELECT detractors FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                            "AND period_start = :s", {"s": date(2026, 10, 1)}) == 2


def test_checks_name_the_offending_values(warehouse, program_config):
    d = Data()
    nps_team(d, "A1", [10, 3], OCT)
    d.load(warehouse)
    marts.build_staging(warehouse, AS_OF, program_config)
    staging = marts.staging_schema(warehouse)
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, f"UPDATE {staging}.mart_nps SET nps = 130, detractors = 5 "
                          "WHERE period_grain = 'month' AND dimension = 'all'")
    with pytest.raises(marts.MartCheckError, match=r"'category_counts' failed: 1 offending row.*category_sum=6, responses=2"):
        marts.audit(warehouse, program_config)
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, f"UPDATE {staging}.mart_nps SET detractors = 1 WHERE period_grain = 'month' AND dimension = 'all'")
    with pytest.raises(marts.MartCheckError, match=r"'nps_range' failed.*value=130"):
        marts.audit(warehouse, program_config)


def test_rebuild_is_idempotent_and_reruns_are_safe(warehouse, program_config):
    d = Data()
    nps_team(d, "A1", [10, 8, 3], OCT)
    d.load(warehouse)
    first = marts.rebuild(warehouse, AS_OF, program_config)
    assert (first["fct_survey_responses"], first["mart_account_nps"] > 0) == (3, True)
    snap, schema = snapshot(warehouse), marts.published_schema(warehouse)
    assert marts.audit(warehouse, program_config) == []          # rerun after publish: nothing to audit
    marts.publish(warehouse)                                      # nor to publish
    assert view_sources(warehouse) == {t: schema for t in marts.MARTS}
    marts.rebuild(warehouse, AS_OF, program_config)
    assert snapshot(warehouse) == snap
    states = {r["build_schema"]: r["status"] for r in warehouse.query("SELECT * FROM ops.mart_builds")}
    assert sorted(states.values()) == ["published", "retired"]
    # Comments for BI users survive the view swap on both engines.
    if warehouse.is_duckdb:
        comment = warehouse.scalar("SELECT comment FROM duckdb_views() WHERE schema_name = 'marts' AND view_name = 'mart_nps'")
        col = warehouse.scalar("SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                               "AND table_name = 'mart_nps' AND column_name = 'nps'")
    else:
        comment = warehouse.scalar("SELECT obj_description(CAST('marts.mart_nps' AS regclass), 'pg_class')")
        col = warehouse.scalar("SELECT col_description(CAST('marts.mart_nps' AS regclass), 10)")
    assert comment.startswith("Net Promoter Score per period") and col.startswith("NPS = percent promoters")


def synthetic(program_config) -> dict[str, pd.DataFrame]:
    """A demo customer base with a ledger and answers (incl. repeats, comments, bounces)."""
    base = generate(program_config, n_accounts=40, start=date(2026, 8, 1), end=date(2026, 11, 1), seed=11)
    rng = np.random.default_rng(5)
    c = base.contacts.sample(n=150, random_state=3, replace=True).reset_index(drop=True)
    n = len(c)
    types = rng.choice(["nps", "csat", "ces"], size=n, p=[0.6, 0.2, 0.2])
    sent = pd.Timestamp("2026-08-01") + pd.to_timedelta(rng.integers(0, 90 * 86400, size=n), unit="s")
    inv = pd.DataFrame({
        "send_key": [f"K{i}" for i in range(n)], "survey_id": [f"S{i}" for i in range(n)], "run_id": "r",
        "cycle": np.where(rng.random(n) < 0.5, "2026-Q3", "2026-Q4"),
        "program": np.where(rng.random(n) < 0.5, "relationship", "transactional"), "survey_type": types,
        "touchpoint": None, "contact_id": c["contact_id"], "account_id": c["account_id"], "locale": c["locale"],
        "status": "sent", "claimed_at": sent, "sent_at": sent,
        "delivery_status": rng.choice(["delivered", "bounce", "processed"], size=n, p=[0.8, 0.1, 0.1]),
    })
    inv.loc[inv["program"] == "transactional", "touchpoint"] = "purchase"
    ans = inv[rng.random(n) < 0.7].copy()
    ans = pd.concat([ans, ans.sample(frac=0.1, random_state=1)])  # some surveys answered twice
    m = len(ans)
    hi = {"nps": 11, "csat": 6, "ces": 8}
    lo = {"nps": 0, "csat": 1, "ces": 1}
    score = [int(rng.integers(lo[t], hi[t])) for t in ans["survey_type"]]
    texts = ["Faktury są za drogie", "Support was slow", "Great onboarding", None, None, "Dostawa opóźniona"]
    resp = pd.DataFrame({
        "response_id": [f"R{i:04d}" for i in range(m)], "survey_id": ans["survey_id"].to_numpy(),
        "survey_type": ans["survey_type"].to_numpy(), "score": score,
        "comment": [texts[i % len(texts)] for i in range(m)],
        "responded_at": ans["sent_at"].to_numpy() + pd.to_timedelta(rng.integers(60, 5 * 86400, size=m), unit="s"),
        "locale": None, "file_id": "F1", "source_line": np.arange(m) + 2, "loaded_at": pd.Timestamp("2026-11-20"),
    })
    return {"base": base, "ops.survey_invitations": inv, "ops.raw_responses": resp}


def test_both_engines_return_identical_marts(duckdb_url, pg_url, program_config):
    frames = synthetic(program_config)
    snaps = []
    for url in (duckdb_url, pg_url):
        wh = Warehouse(url)
        wh.migrate()
        load_base(wh, frames["base"])
        with wh.begin() as conn:
            wh.load_df(conn, "ops.survey_invitations", frames["ops.survey_invitations"])
            wh.load_df(conn, "ops.raw_responses", frames["ops.raw_responses"])
        marts.rebuild(wh, AS_OF, program_config)
        snaps.append(snapshot(wh))
        wh.dispose()
    duck, pg = snaps
    assert len(duck["fct_survey_responses"]) > 90 and len(duck["mart_nps"]) > 100 and len(duck["mart_churn_risk"]) > 10
    assert len(duck["fct_comment_themes"]) > 10 and len(duck["mart_retention"]) > 5
    for table in marts.MARTS:
        assert duck[table] == pg[table], table


def test_tables_older_than_their_definitions_stay_readable_until_builds_replace_them(warehouse, program_config):
    """A warehouse whose tables predate a definition (here: previous_score, dropped by migration 005
    when migrations still made the tables) keeps them: the published rows stay readable, and the
    builds replace them with the definition's shape instead of failing on the extra column."""
    d = Data()
    nps_team(d, "A1", [10, 10, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    published = marts.published_schema(warehouse)
    rows = snapshot(warehouse)["fct_survey_responses"]
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, "DROP VIEW marts.fct_survey_responses")
        for schema in marts.BUILD_SCHEMAS:
            warehouse.run_sql(conn, f"ALTER TABLE {schema}.fct_survey_responses ADD COLUMN previous_score INTEGER")
        warehouse.run_sql(conn, f"CREATE VIEW marts.fct_survey_responses AS SELECT * FROM {published}.fct_survey_responses")
    assert warehouse.migrate() == []  # existing tables are kept
    after = warehouse.query("SELECT * FROM marts.fct_survey_responses")
    assert "previous_score" in after[0] and len(after) == len(rows) == 3

    def columns(schema: str) -> list[str]:
        return [r["column_name"] for r in warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND "
            "table_name = 'fct_survey_responses' ORDER BY ordinal_position", {"s": schema})]

    wanted = mart_docs.load("fct_survey_responses").names
    marts.rebuild(warehouse, AS_OF, program_config)  # full: the published tables cannot be copied
    state = marts.build_state(warehouse, marts.published_schema(warehouse))
    assert state["mode"] == "full" and "fct_survey_responses in " + published + " differ from their definitions" in state["reason"]
    assert marts.published_schema(warehouse) != published
    assert columns("marts") == wanted and snapshot(warehouse)["fct_survey_responses"] == rows
    marts.rebuild(warehouse, AS_OF, program_config)  # copies from the new build; the old schema is recreated
    assert marts.build_state(warehouse, published)["mode"] == "incremental"
    assert columns("marts_blue") == columns("marts_green") == wanted
    assert snapshot(warehouse)["fct_survey_responses"] == rows


def test_a_build_that_stops_half_way_is_never_audited_or_published(warehouse, program_config, monkeypatch):
    d = Data()
    nps_team(d, "A1", [10, 10, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    before, published = snapshot(warehouse), marts.published_schema(warehouse)
    real = marts.run_mart_sql

    def failing(wh, conn, name, schema, params=None, **kw):
        if name == "mart_retention":
            raise RuntimeError("worker lost")
        return real(wh, conn, name, schema, params, **kw)

    monkeypatch.setattr(marts, "run_mart_sql", failing)
    with pytest.raises(RuntimeError, match="worker lost"):
        marts.build_staging(warehouse, AS_OF, program_config)
    monkeypatch.undo()
    staging = marts.staging_schema(warehouse)
    assert warehouse.scalar("SELECT status FROM ops.mart_builds WHERE build_schema = :s", {"s": staging}) == "building"
    assert warehouse.scalar(f"SELECT COUNT(*) FROM {staging}.fct_survey_responses") == 3  # earlier steps committed
    with pytest.raises(marts.StagingIncompleteError, match="did not finish"):
        marts.audit(warehouse, program_config)
    marts.publish(warehouse)  # nothing to publish
    assert snapshot(warehouse) == before and marts.published_schema(warehouse) == published
    assert view_sources(warehouse) == {t: published for t in marts.MARTS}
    marts.rebuild(warehouse, AS_OF, program_config)  # the rerun starts over and publishes
    assert marts.published_schema(warehouse) == staging and snapshot(warehouse) == before
