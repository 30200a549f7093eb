"""Blue/green publish, checked where BI tools look: the view definitions of ``marts.*``, both engines."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from nps import marts
from nps.warehouse import WarehouseError
from tests.marts.helpers import AS_OF, Data, nps_team, view_sources

OCT = datetime(2026, 10, 5, 10)


def october_nps(wh) -> tuple:
    r = wh.query("SELECT responses, promoters, detractors, nps FROM marts.mart_nps WHERE period_grain = 'month' "
                 "AND dimension = 'all' AND period_start = :s", {"s": date(2026, 10, 1)})[0]
    return (r["responses"], r["promoters"], r["detractors"], round(float(r["nps"]), 2))


def change_first_answer(wh, survey_id: str, score: int) -> None:
    """The contact answers again later: the latest answer counts."""
    with wh.begin() as conn:
        wh.run_sql(conn, "INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, "
                   "responded_at, locale, file_id, source_line, loaded_at) VALUES ('R-again', :s, 'nps', :score, NULL, "
                   ":t, 'en', 'F9', 2, :t)", {"s": survey_id, "score": score, "t": OCT + timedelta(hours=2)})


def test_every_view_reads_the_new_build_after_a_publish(warehouse, program_config):
    d = Data()
    sids = nps_team(d, "A1", [10, 10, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    first = marts.published_schema(warehouse)
    assert view_sources(warehouse) == {t: first for t in marts.MARTS}
    assert october_nps(warehouse) == (3, 2, 1, 33.33)  # (2 - 1) / 3
    change_first_answer(warehouse, sids[0], 0)          # 10 becomes 0: 1 promoter, 2 detractors
    marts.rebuild(warehouse, AS_OF, program_config)
    second = marts.published_schema(warehouse)
    assert second != first
    assert view_sources(warehouse) == {t: second for t in marts.MARTS}
    assert october_nps(warehouse) == (3, 1, 2, -33.33)  # (1 - 2) / 3


def test_a_view_that_fails_mid_publish_leaves_every_view_on_the_previous_build(warehouse, program_config):
    d = Data()
    sids = nps_team(d, "A1", [10, 10, 3], OCT)
    d.load(warehouse)
    marts.rebuild(warehouse, AS_OF, program_config)
    old = marts.published_schema(warehouse)
    change_first_answer(warehouse, sids[0], 0)
    marts.build_staging(warehouse, AS_OF, program_config)
    marts.audit(warehouse, program_config)
    new = marts.staging_schema(warehouse)
    # A real failure in the 8th of 11 CREATE VIEWs: the table it reads is gone (after 7 views were repointed).
    assert marts.MARTS.index("mart_retention") == 7
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, f"ALTER TABLE {new}.mart_retention RENAME TO mart_retention_moved")
    with pytest.raises(WarehouseError, match="mart_retention"):
        marts.publish(warehouse)
    assert view_sources(warehouse) == {t: old for t in marts.MARTS}
    assert october_nps(warehouse) == (3, 2, 1, 33.33)   # BI still reads the previous build
    states = {r["build_schema"]: r["status"] for r in warehouse.query("SELECT build_schema, status FROM ops.mart_builds")}
    assert states == {old: "published", new: "audited"}
    # Repaired, the same audited build publishes whole.
    with warehouse.begin() as conn:
        warehouse.run_sql(conn, f"ALTER TABLE {new}.mart_retention_moved RENAME TO mart_retention")
    marts.publish(warehouse)
    assert view_sources(warehouse) == {t: new for t in marts.MARTS}
    assert october_nps(warehouse) == (3, 1, 2, -33.33)
