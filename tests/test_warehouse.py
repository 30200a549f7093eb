"""Warehouse access on DuckDB and PostgreSQL: migrations, SQL files, bulk loads, clear errors."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from nps.warehouse import Warehouse, WarehouseError, mask_url, normalize_url, split_statements

EXPECTED_TABLES = {
    ("src", "accounts"), ("src", "contacts"), ("src", "touchpoint_events"), ("src", "contracts"),
    ("ops", "survey_invitations"), ("ops", "suppressions"), ("ops", "raw_responses"), ("ops", "email_events"),
    ("ops", "schema_migrations"),
}


def _tables(wh: Warehouse) -> set[tuple[str, str]]:
    rows = wh.query("SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN ('src', 'ops', 'marts')")
    return {(r["table_schema"], r["table_name"]) for r in rows}


def test_migrations_create_schema_and_are_idempotent(warehouse):
    assert EXPECTED_TABLES <= _tables(warehouse)
    version = warehouse.schema_version()
    assert version == max(v for v, _, _ in warehouse.migrations())
    assert warehouse.migrate() == []  # nothing left to apply
    assert warehouse.schema_version() == version
    names = [r["name"] for r in warehouse.query("SELECT name FROM ops.schema_migrations ORDER BY version")]
    assert names[0] == "foundation"


def test_a_migration_twin_replaces_the_migration_on_its_engine(warehouse):
    """021 sets the ledger's fillfactor on PostgreSQL (021_ledger_fillfactor.postgresql.sql) and is a no-op on DuckDB."""
    applied = {r["version"]: r["name"] for r in warehouse.query("SELECT version, name FROM ops.schema_migrations")}
    assert applied[20] == "contact_slots" and applied[21] == "ledger_fillfactor"
    if not warehouse.is_duckdb:
        options = warehouse.scalar("SELECT reloptions FROM pg_class WHERE oid = CAST('ops.survey_invitations' AS regclass)")
        assert options == ["fillfactor=70"]
    # 075: ops.cohort_contacts is a trigger-kept table on PostgreSQL, a view on DuckDB.
    kind = warehouse.scalar("SELECT table_type FROM information_schema.tables "
                            "WHERE table_schema = 'ops' AND table_name = 'cohort_contacts'")
    assert applied[75] == "cohort_contacts"
    assert kind == ("VIEW" if warehouse.is_duckdb else "BASE TABLE")


def test_load_df_round_trips_nulls_empty_strings_and_types(warehouse):
    df = pd.DataFrame(
        {
            "email": ["a@x.example", "b@x.example", "c@x.example"],
            "reason": ["bounce", "unsubscribe", "manual"],
            "contact_id": ["P1", None, ""],
            "source": ['file "q".json', "line,with,commas", "multi\nline"],
            "occurred_at": [datetime(2026, 9, 1, 10, 0, 0, 123000), datetime(2026, 9, 2), datetime(2026, 9, 3, 23, 59, 59)],
        }
    )
    with warehouse.begin() as conn:
        assert warehouse.load_df(conn, "ops.suppressions", df) == 3
    rows = warehouse.query("SELECT * FROM ops.suppressions ORDER BY email")
    assert [r["contact_id"] for r in rows] == ["P1", None, ""]
    assert [r["source"] for r in rows] == ['file "q".json', "line,with,commas", "multi\nline"]
    assert rows[0]["occurred_at"] == datetime(2026, 9, 1, 10, 0, 0, 123000)


def test_load_is_transactional(warehouse):
    df = pd.DataFrame({"email": ["a@x", "a@x"], "reason": ["bounce", "bounce"], "contact_id": [None, None],
                       "source": ["f", "f"], "occurred_at": [datetime(2026, 9, 1)] * 2})
    with pytest.raises(Exception):  # noqa: B017 - the driver's own duplicate-key error
        with warehouse.begin() as conn:
            warehouse.run_sql(conn, "DELETE FROM ops.suppressions")
            warehouse.load_df(conn, "ops.suppressions", df)
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.suppressions") == 0


def test_run_sql_binds_values_and_names_failing_statement(warehouse):
    with warehouse.begin() as conn:
        warehouse.run_sql(
            conn,
            "INSERT INTO ops.suppressions (email, reason, source, occurred_at) VALUES (:e, 'manual', :s, :t);\n"
            "INSERT INTO ops.suppressions (email, reason, source, occurred_at) VALUES (:e, 'bounce', :s, :t);",
            {"e": "x'); DROP TABLE src.accounts; --@x.example", "s": "test", "t": datetime(2026, 1, 1)},
        )
    assert warehouse.scalar("SELECT COUNT(*) FROM ops.suppressions") == 2
    assert ("src", "accounts") in _tables(warehouse)
    with pytest.raises(WarehouseError, match=r"demo\.sql statement 2 failed on (duckdb|postgresql)"):
        with warehouse.begin() as conn:
            warehouse.run_sql(conn, "SELECT 1;\nSELECT * FROM no_such_table;", source="demo.sql")


def test_split_statements():
    sql = (
        "-- header; with a semicolon\nCREATE TABLE a (x INT);\n\n-- only a comment;\n"
        "INSERT INTO a VALUES (1); -- trailing\nSELECT ';', 'it''s;' ;\nSELECT a, -- first;\n b FROM t"
    )
    assert split_statements(sql) == [
        "-- header; with a semicolon\nCREATE TABLE a (x INT)",
        "-- only a comment;\nINSERT INTO a VALUES (1)",
        "-- trailing\nSELECT ';', 'it''s;'",
        "SELECT a, -- first;\n b FROM t",
    ]


def test_unreachable_postgres_is_named_without_password():
    wh = Warehouse("postgresql://nps:s3cret@127.0.0.1:1/nps")
    with pytest.raises(WarehouseError) as err:
        wh.migrate()
    assert "cannot connect to warehouse postgresql+psycopg://nps:***@127.0.0.1:1/nps" in str(err.value)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("url", ["mysql://x@y/z", "not a url"])
def test_unsupported_url(url):
    with pytest.raises(WarehouseError):
        Warehouse(url)


def test_url_helpers():
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert mask_url("postgresql+psycopg://u:pw@h/db") == "postgresql+psycopg://u:***@h/db"


def test_connection_to_url():
    from types import SimpleNamespace

    from nps.hooks import connection_to_url

    pg = SimpleNamespace(conn_id="w", conn_type="postgres", login="nps", password="p@ss/word", host="db", port=5432,
                         schema="dw", extra_dejson={})
    assert connection_to_url(pg) == "postgresql+psycopg://nps:p%40ss%2Fword@db:5432/dw"
    duck = SimpleNamespace(conn_id="w", conn_type="duckdb", login=None, password=None, host="", port=None,
                           schema="/tmp/w.duckdb", extra_dejson={})
    assert connection_to_url(duck) == "duckdb:////tmp/w.duckdb"
    generic = SimpleNamespace(conn_id="w", conn_type="generic", extra_dejson={"sqlalchemy_url": "duckdb:///x.duckdb"})
    assert connection_to_url(generic) == "duckdb:///x.duckdb"
    with pytest.raises(ValueError, match="has type 'mysql'"):
        connection_to_url(SimpleNamespace(conn_id="w", conn_type="mysql", extra_dejson={}))


def test_held_keeps_one_duckdb_instance_across_transactions(warehouse):
    # A global setting lives as long as the database instance: inside held() every connection
    # attaches to the held instance (also in a nested held()); after it the file is opened afresh,
    # with the defaults, and another process can open it again.
    if not warehouse.is_duckdb:
        with warehouse.held():  # a no-op on PostgreSQL
            assert warehouse.scalar("SELECT 41 + 1") == 42
        return
    setting = "SELECT current_setting('memory_limit')"
    default = warehouse.scalar(setting)
    with warehouse.held():
        with warehouse.begin() as conn:
            conn.exec_driver_sql("SET GLOBAL memory_limit = '123MB'")
        held = warehouse.scalar(setting)
        assert held != default
        with warehouse.held():
            assert warehouse.scalar(setting) == held
        assert warehouse.scalar(setting) == held
    assert warehouse.scalar(setting) == default


def test_query_rows_reads_rows_by_position(warehouse):
    keys, rows = warehouse.query_rows("SELECT 1 AS a, 'x' AS b UNION ALL SELECT 2, NULL ORDER BY a")
    assert keys == ["a", "b"]
    assert [tuple(r) for r in rows] == [(1, "x"), (2, None)]


@pytest.mark.parametrize("kind", [
    pytest.param("plain", id="arrow-csv"),  # PostgreSQL: Arrow writes the COPY CSV
    pytest.param("category", id="pandas-csv"),  # a column Arrow is not trusted with: pandas writes it
])
def test_load_df_round_trips_numbers_booleans_and_nulls(warehouse, kind):
    """Both COPY writers (and DuckDB's in-place read) store the same values: integers, floats,
    booleans, nulls, empty strings, microseconds."""
    from nps.warehouse import _arrow_csv

    with warehouse.begin() as conn:
        warehouse.run_sql(conn, "CREATE TABLE ops.t_load (s VARCHAR, i BIGINT, f DOUBLE PRECISION, b BOOLEAN, ts TIMESTAMP)")
    df = pd.DataFrame({
        "s": ["a,\"b\"\nc", "", None],
        "i": [1, -2, 3],
        "f": [1.5, float("nan"), 1e-7],
        "b": [True, False, True],
        "ts": pd.Series([datetime(2026, 9, 1, 10, 0, 0, 120), datetime(2026, 9, 2), None], dtype="datetime64[us]"),
    })
    if kind == "category":
        df["s"] = df["s"].astype("category")
        assert _arrow_csv(df) is None
    else:
        assert _arrow_csv(df) is not None
    with warehouse.begin() as conn:
        assert warehouse.load_df(conn, "ops.t_load", df) == 3
    rows = warehouse.query("SELECT * FROM ops.t_load ORDER BY i")
    assert [r["s"] for r in rows] == ["", "a,\"b\"\nc", None]  # ordered by i: -2, 1, 3
    assert [r["f"] for r in rows] == [None, 1.5, 1e-7]
    assert [r["b"] for r in rows] == [False, True, True]
    assert [r["ts"] for r in rows] == [datetime(2026, 9, 2), datetime(2026, 9, 1, 10, 0, 0, 120), None]
