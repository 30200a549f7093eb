"""The audit runs its checks under the build's engine settings (DuckDB memory cap, PostgreSQL work_mem)."""

from __future__ import annotations

from nps import marts
from tests.marts.helpers import AS_OF, Data, nps_team
from tests.marts.test_build import OCT


def test_audit_checks_run_on_a_tuned_connection(warehouse, program_config, monkeypatch):
    d = Data()
    nps_team(d, "A1", [10, 7, 3], OCT)
    d.load(warehouse)
    marts.build_staging(warehouse, AS_OF, program_config)
    tuned = []
    real_tune = marts._tune

    def spy(wh, conn):
        real_tune(wh, conn)
        setting = "memory_limit" if wh.is_duckdb else "work_mem"
        tuned.append(conn.exec_driver_sql(f"SELECT current_setting('{setting}')").scalar())

    monkeypatch.setattr(marts, "_tune", spy)
    monkeypatch.setenv("NPS_DUCKDB_MEMORY_LIMIT", "512MB")
    monkeypatch.setenv("NPS_PG_WORK_MEM", "64MB")
    assert marts.audit(warehouse, program_config) == list(marts.CHECKS)
    # DuckDB reports the cap in its own units (512MB = 488.2 MiB); PostgreSQL as set.
    assert len(tuned) == 1 and tuned[0] in ("488.2 MiB", "64MB")
    # A rerun before publishing audits again, on a tuned connection again; after publishing, nothing to audit.
    assert marts.audit(warehouse, program_config) == list(marts.CHECKS) and len(tuned) == 2
    marts.publish(warehouse)
    assert marts.audit(warehouse, program_config) == [] and len(tuned) == 2
