"""The mart tables come from their definitions (include/sql/marts/<mart>.yml), on both engines.

The tables made from the YAML equal the hand-written ones of the old migrations column for
column; a warehouse made the old way keeps its tables; a mart's SQL inserts exactly its YAML's
columns (a test names the mart and the column when not); a changed definition rebuilds the tables.
"""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from nps import SQL_DIR, mart_docs, marts
from nps.warehouse import Warehouse
from tests.marts.helpers import AS_OF, Data, nps_team
from tests.marts.test_publish import OCT

LEGACY = Path(__file__).with_name("legacy_mart_tables.sql")
_COLUMNS = ("SELECT table_name, column_name, data_type, numeric_precision, numeric_scale, is_nullable "
            "FROM information_schema.columns WHERE table_schema = :s ORDER BY table_name, ordinal_position")


def columns(wh: Warehouse, schema: str) -> list[dict]:
    return wh.query(_COLUMNS, {"s": schema})


def _legacy(wh: Warehouse, schema: str) -> None:
    """The hand-written tables of the old migrations, in ``schema``."""
    with wh.begin() as conn:
        wh.run_sql(conn, f"CREATE SCHEMA IF NOT EXISTS {schema}")
        wh.run_sql(conn, LEGACY.read_text(encoding="utf-8").replace("legacy.", f"{schema}."))


def test_tables_from_the_definitions_equal_the_hand_written_ones(warehouse, program_config):
    _legacy(warehouse, "legacy")
    old = columns(warehouse, "legacy")
    assert len(old) == 265 and {r["table_name"] for r in old} == set(marts.MARTS)
    for schema in marts.BUILD_SCHEMAS:
        assert columns(warehouse, schema) == old, schema
    d = Data()
    nps_team(d, "A1", [10, 9, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    marts.rebuild(warehouse, AS_OF, program_config, full_rebuild=True)
    for schema in marts.BUILD_SCHEMAS:  # a build recreates its tables from the definitions, NOT NULL included
        assert columns(warehouse, schema) == old, schema


def test_a_warehouse_made_by_the_old_migrations_keeps_its_tables(warehouse, program_config):
    with warehouse.begin() as conn:
        for table in marts.MARTS:
            warehouse.run_sql(conn, f"DROP VIEW marts.{table}")
            for schema in marts.BUILD_SCHEMAS:
                warehouse.run_sql(conn, f"DROP TABLE {schema}.{table}")
    _legacy(warehouse, "marts_blue")
    with warehouse.begin() as conn:
        for table in marts.MARTS:  # as migration 004 made them
            warehouse.run_sql(conn, f"CREATE TABLE marts_green.{table} AS SELECT * FROM marts_blue.{table} WHERE 1 = 0")
            warehouse.run_sql(conn, f"CREATE VIEW marts.{table} AS SELECT * FROM marts_blue.{table}")
        warehouse.run_sql(conn, "INSERT INTO marts_blue.mart_retention (period_grain, period_start, period_end, "
                          "customers_at_start, customers_acquired, customers_lost, customers_at_end, promoter_accounts, "
                          "promoter_churned_next, passive_accounts, passive_churned_next, detractor_accounts, "
                          "detractor_churned_next) VALUES ('month', DATE '2026-09-01', DATE '2026-10-01', 1, 0, 0, 1, 0, 0, "
                          "0, 0, 0, 0)")
    assert warehouse.migrate() == []
    assert warehouse.scalar("SELECT COUNT(*) FROM marts.mart_retention") == 1  # kept, and still readable
    d = Data()
    nps_team(d, "A1", [10, 9, 3], OCT)
    d.load(warehouse)
    counts = marts.rebuild(warehouse, AS_OF, program_config)
    assert counts["fct_survey_responses"] == 3
    assert marts.rebuild(warehouse, AS_OF, program_config) == counts


@pytest.mark.parametrize("mart", marts.MARTS)
def test_each_mart_sql_inserts_exactly_the_columns_of_its_yaml(mart):
    doc = mart_docs.load(mart)
    assert mart_docs.sql_drift(doc, marts.render_mart_sql(SQL_DIR / "marts" / f"{mart}.sql")) == []
    assert mart_docs.sql_drift(doc, marts.render_mart_sql(SQL_DIR / "marts" / f"{mart}.sql", incremental=True)) == []


def test_a_column_on_one_side_only_is_named_with_its_mart(tmp_path):
    yml = (SQL_DIR / "marts" / "mart_nps.yml").read_text(encoding="utf-8")
    sql = marts.render_mart_sql(SQL_DIR / "marts" / "mart_nps.sql")
    (tmp_path / "mart_nps.yml").write_text(
        yml + "  nps_median:\n    type: numeric(9, 2)\n    description: A column the SQL does not make.\n", encoding="utf-8")
    assert mart_docs.sql_drift(mart_docs.load("mart_nps", tmp_path), sql) == [
        "mart_nps: column nps_median is in mart_nps.yml but the SQL does not insert it"]
    cut = yml.replace("  nps_moe:\n    type: numeric(9, 2)\n", "  nps_moe_gone:\n    type: numeric(9, 2)\n")
    (tmp_path / "mart_nps.yml").write_text(cut, encoding="utf-8")
    assert mart_docs.sql_drift(mart_docs.load("mart_nps", tmp_path), sql) == [
        "mart_nps: column nps_moe_gone is in mart_nps.yml but the SQL does not insert it",
        "mart_nps: column nps_moe is inserted by mart_nps.sql but missing from mart_nps.yml"]


def test_the_generated_ddl_is_the_yaml():
    ddl = mart_docs.create_table(mart_docs.load("mart_nps"), "marts_green")
    assert ddl.startswith("CREATE TABLE marts_green.mart_nps (\n    period_grain varchar NOT NULL,\n")
    assert "    nps numeric(9, 2),\n" in ddl and ddl.endswith("    change_significant boolean\n)")


def test_a_changed_definition_rebuilds_the_tables(warehouse, program_config, tmp_path):
    """mart_nps gains a column and nps_moe becomes double precision: the next build is full and
    recreates the staging tables, publishing replaces the views (PostgreSQL refuses to change a
    view's column type in place), and the build after recreates the other schema's tables."""
    d = Data()
    nps_team(d, "A1", [10, 9, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    sql_dir = tmp_path / "sql"
    shutil.copytree(SQL_DIR, sql_dir)
    yml, sql = sql_dir / "marts" / "mart_nps.yml", sql_dir / "marts" / "mart_nps.sql"
    yml.write_text(yml.read_text(encoding="utf-8").replace("  nps_moe:\n    type: numeric(9, 2)\n",
                                                           "  nps_moe:\n    type: double precision\n")
                   + "  answers:\n    type: bigint not null\n    description: Counted answers again.\n", encoding="utf-8")
    text = sql.read_text(encoding="utf-8")
    sql.write_text(text.replace("change_significant\n)", "change_significant, answers\n)")
                   .replace(" END\n{{ m.with_previous_period() }}", " END,\n    s.n\n{{ m.with_previous_period() }}"),
                   encoding="utf-8")
    changed = Warehouse(warehouse.url, sql_dir=sql_dir)
    try:
        first = marts.published_schema(changed)
        marts.rebuild(changed, AS_OF, program_config)
        second = marts.published_schema(changed)
        state = marts.build_state(changed, second)
        assert second != first and state["mode"] == "full" and "fingerprint differs" in state["reason"]
        row = changed.query("SELECT nps_moe, answers FROM marts.mart_nps WHERE period_grain = 'month' AND "
                            "period_start = DATE '2026-10-01' AND dimension = 'all'")[0]
        assert row["answers"] == 3 and isinstance(row["nps_moe"], float) and round(row["nps_moe"], 2) == 106.69

        def shape(schema: str) -> list[tuple]:
            return [(r["column_name"], r["data_type"].lower()) for r in columns(changed, schema)
                    if r["table_name"] == "mart_nps"]

        assert shape("marts")[10] == ("nps_moe", "double precision" if not changed.is_duckdb else "double")
        assert shape("marts")[-1][0] == "answers" and shape("marts") == shape(second)
        marts.rebuild(changed, AS_OF + timedelta(days=1), program_config)
        assert marts.build_state(changed, first)["mode"] == "incremental"
        assert shape(first) == shape(second)
    finally:
        changed.dispose()
