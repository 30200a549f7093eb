"""Each mart's documentation is said once (include/sql/marts/<mart>.yml) and nothing drifts from it.

The YAML must name exactly the mart's real columns (read from the built tables, both engines),
the published views must carry its comments, docs/marts.md must hold the tables generated from
it, and the three score marts must come from the shared macros (no near-duplicate SQL).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nps import mart_docs, marts
from nps.marts import render_mart_sql
from tests.marts.helpers import AS_OF, Data, nps_team
from tests.marts.test_publish import OCT

ROOT = Path(__file__).resolve().parents[2]
MARTS_DIR = ROOT / "include" / "sql" / "marts"


@pytest.mark.unit
def test_every_mart_is_documented_once():
    assert {p.stem for p in MARTS_DIR.glob("*.yml")} == set(marts.MARTS), "one include/sql/marts/<mart>.yml per mart"
    assert [doc.mart for doc in mart_docs.load_all(marts.MARTS)] == list(marts.MARTS)
    assert not (MARTS_DIR / "comments.sql").exists(), "comments come from the YAML only"


@pytest.mark.unit
def test_docs_marts_md_holds_the_generated_column_tables():
    current = mart_docs.DOCS_PATH.read_text(encoding="utf-8")
    assert current == mart_docs.render_docs(current, mart_docs.load_all(marts.MARTS)), (
        "docs/marts.md drifted from include/sql/marts/*.yml: run python -m nps.mart_docs"
    )
    assert ("| `nps_moe` | numeric(9, 2) | 95 percent margin of error of nps in points, 196 * sqrt(v / n), "
            "v = p + d - (p - d)^2. |") in current
    assert "| `period_grain` | varchar not null | week (ISO, starting Monday), month or quarter. |" in current


@pytest.mark.unit
def test_a_changed_yaml_makes_the_docs_check_fail(tmp_path):
    (tmp_path / "mart_nps.yml").write_text(
        (MARTS_DIR / "mart_nps.yml").read_text(encoding="utf-8").replace("First day of the period.", "Day one."),
        encoding="utf-8",
    )
    current = mart_docs.DOCS_PATH.read_text(encoding="utf-8")
    changed = mart_docs.render_docs(current, mart_docs.load_all(["mart_nps"], tmp_path))
    assert changed != current and "| `period_start` | date not null | Day one. |" in changed


@pytest.mark.unit
@pytest.mark.parametrize(
    ("column", "error"),
    [
        pytest.param("a: {type: date, description: ''}", r"mart_x.yml: columns.a.description must be", id="no-description"),
        pytest.param("a: The day.", r"mart_x.yml: columns.a.description must be", id="old-shape"),
        pytest.param("a: {type: datetime, description: The day.}", r"mart_x.yml: columns.a.type is 'datetime'; use one of",
                     id="unportable-type"),
        pytest.param("a: {type: date null, description: The day.}", r"columns.a.type is 'date null'", id="bad-null"),
    ],
)
def test_a_yaml_without_descriptions_or_types_is_refused(tmp_path, column, error):
    (tmp_path / "mart_x.yml").write_text(f"description: A table.\ncolumns:\n  {column}\n", encoding="utf-8")
    with pytest.raises(mart_docs.MartDocsError, match=error):
        mart_docs.load("mart_x", tmp_path)


@pytest.mark.unit
def test_a_mart_without_a_yaml_is_refused(tmp_path):
    with pytest.raises(mart_docs.MartDocsError, match=r"mart_x.yml is missing: every mart needs one"):
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
        assert doc.names == real, f"include/sql/marts/{doc.mart}.yml lists other columns than the table"
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
        assert {r["c"]: r["comment"] for r in rows} == {c.name: c.description for c in doc.columns}
        assert table_comment == doc.description
