"""Each mart's documentation is said once (include/sql/marts/<mart>.yml) and nothing drifts from it.

The YAML must name exactly the mart's real columns (read from the built tables, both engines),
the published views must carry its comments, docs/marts.md must hold the tables generated from
it, and the three score marts must come from the shared macros (no near-duplicate SQL).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nps import mart_docs, marts
from nps.marts import render_mart_sql
from tests.marts.helpers import AS_OF, Data, nps_team
from tests.marts.test_publish import OCT

ROOT = Path(__file__).resolve().parents[2]
MARTS_DIR = ROOT / "include" / "sql" / "marts"


def _documented_in_comments_sql() -> set[str]:
    text = (MARTS_DIR / "comments.sql").read_text(encoding="utf-8")
    return set(re.findall(r"COMMENT ON (?:VIEW|TABLE) marts\.(\w+)", text))


@pytest.mark.unit
def test_every_mart_is_documented_once():
    with_yaml = {m for m in marts.MARTS if (MARTS_DIR / f"{m}.yml").is_file()}
    legacy = _documented_in_comments_sql()
    assert with_yaml | legacy == set(marts.MARTS), "a mart without documentation: add include/sql/marts/<mart>.yml"
    assert not (with_yaml & legacy), "a mart documented twice (YAML and comments.sql): keep the YAML"
    assert len(with_yaml) >= 11


@pytest.mark.unit
def test_docs_marts_md_holds_the_generated_column_tables():
    current = mart_docs.DOCS_PATH.read_text(encoding="utf-8")
    assert current == mart_docs.render_docs(current, mart_docs.load_all(marts.MARTS)), (
        "docs/marts.md drifted from include/sql/marts/*.yml: run python -m nps.mart_docs"
    )
    assert "| `nps_moe` | 95 percent margin of error of nps in points, 196 * sqrt(v / n), v = p + d - (p - d)^2. |" in current


@pytest.mark.unit
def test_a_changed_yaml_makes_the_docs_check_fail(tmp_path):
    (tmp_path / "mart_nps.yml").write_text(
        (MARTS_DIR / "mart_nps.yml").read_text(encoding="utf-8").replace("First day of the period.", "Day one."),
        encoding="utf-8",
    )
    current = mart_docs.DOCS_PATH.read_text(encoding="utf-8")
    changed = mart_docs.render_docs(current, mart_docs.load_all(["mart_nps"], tmp_path))
    assert changed != current and "| `period_start` | Day one. |" in changed


@pytest.mark.unit
def test_a_yaml_without_descriptions_is_refused(tmp_path):
    (tmp_path / "mart_x.yml").write_text("description: A table.\ncolumns:\n  a: ''\n", encoding="utf-8")
    with pytest.raises(mart_docs.MartDocsError, match=r"mart_x.yml: columns.a must be a description"):
        mart_docs.load("mart_x", tmp_path)


@pytest.mark.unit
def test_the_score_marts_say_the_grid_once():
    """No near-duplicate SQL: the grid lives in the macros; each score mart file is its own maths."""
    for name in ("mart_nps", "mart_csat", "mart_ces"):
        source = (MARTS_DIR / f"{name}.sql").read_text(encoding="utf-8")
        assert "score_grid(" in source and "CROSS JOIN (VALUES" not in source and len(source.splitlines()) < 50
        rendered = render_mart_sql(MARTS_DIR / f"{name}.sql")
        # Every dimension of the one DIMENSIONS list reaches the rendered SQL.
        assert "(VALUES ('all'), ('industry'), ('touchpoint'), ('segment'), ('region'), ('role'))" in rendered
        assert "{{" not in rendered and "{%" not in rendered


@pytest.mark.integration
def test_yaml_columns_are_the_real_columns_and_the_published_comments(warehouse, program_config):
    d = Data()
    nps_team(d, "A1", [10, 9, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    schema = marts.published_schema(warehouse)
    for doc in mart_docs.load_all(marts.MARTS):
        real = [r["column_name"] for r in warehouse.query(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = :s AND table_name = :t "
            "ORDER BY ordinal_position", {"s": schema, "t": doc.mart})]
        assert list(doc.columns) == real, f"include/sql/marts/{doc.mart}.yml lists other columns than the table"
        if warehouse.is_duckdb:
            rows = warehouse.query("SELECT column_name AS c, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                                   "AND table_name = :t", {"t": doc.mart})
            table_comment = warehouse.scalar("SELECT comment FROM duckdb_views() WHERE schema_name = 'marts' "
                                             "AND view_name = :t", {"t": doc.mart})
        else:
            rows = warehouse.query(
                "SELECT a.attname AS c, col_description(a.attrelid, a.attnum) AS comment FROM pg_attribute a "
                "WHERE a.attrelid = CAST(:t AS regclass) AND a.attnum > 0 AND NOT a.attisdropped", {"t": f"marts.{doc.mart}"})
            table_comment = warehouse.scalar("SELECT obj_description(CAST(:t AS regclass), 'pg_class')", {"t": f"marts.{doc.mart}"})
        assert {r["c"]: r["comment"] for r in rows} == doc.columns
        assert table_comment == doc.description
