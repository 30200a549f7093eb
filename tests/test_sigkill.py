"""SIGKILL in the middle of the work, on both engines: a worker process is killed (no cleanup runs,
no exception handler, exactly what an OOM kill or a lost node does) after part of its work was
committed; the rerun then leaves the warehouse exactly as one clean run would: no duplicate rows,
no answer lost, the published marts untouched until a build completes. (Email-sending tasks are
killed mid-send in tests/dispatch/test_dispatch.py::test_worker_killed_by_signal_then_the_webhook_then_a_rerun.)
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AS_OF = datetime(2026, 12, 1, 5, 30)


def killed(code: str) -> None:
    """Run ``code`` in a new Python process that SIGKILLs itself where the code says."""
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'plugins'}:{ROOT}"}
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True,
                         timeout=300, cwd=ROOT)
    assert out.returncode == -signal.SIGKILL, (out.returncode, out.stderr[-3000:])


def _rows(wh, sql: str) -> list[tuple]:
    return sorted((tuple(r.values()) for r in wh.query(sql)), key=repr)


def test_ingestion_killed_after_two_committed_chunks_then_rerun(warehouse, tmp_path, program_config):
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse
    from tests.ingest.conftest import SECRET, insert_ledger, ledger_frame
    from tests.ingest.test_load import kitchen_sink

    data = kitchen_sink(TokenSigner(SECRET))
    # The reference: one clean run of the same file on a fresh warehouse.
    ref = Warehouse(f"duckdb:///{tmp_path / 'reference.duckdb'}")
    ref.migrate()
    insert_ledger(ref, ledger_frame())
    (tmp_path / "ref" / "responses").mkdir(parents=True)
    (tmp_path / "ref" / "responses" / "a.csv").write_bytes(data)
    ingest_responses(ref, Landing(str(tmp_path / "ref")), secret=SECRET, config=program_config, chunk_rows=8)
    answers = "SELECT response_id, survey_id, score, comment FROM ops.raw_responses"
    quarantined = "SELECT line_number, category, reason FROM ops.quarantine"
    expected = (_rows(ref, answers), _rows(ref, quarantined))
    ref.dispose()
    assert expected[0] and expected[1]  # answers and quarantined rows both: every path of the loader

    wh = warehouse
    insert_ledger(wh, ledger_frame())
    landing = tmp_path / "landing"
    (landing / "responses").mkdir(parents=True)
    (landing / "responses" / "a.csv").write_bytes(data)
    killed(f"""
        import os, signal
        from nps.config import load_config
        from nps.ingest import load
        from nps.ingest.landing import Landing
        from nps.warehouse import Warehouse
        real, done = load.ResponseLoader._write, []
        def then_die(self, *args):  # in the writer thread, after the chunk's commit
            dupes = real(self, *args)
            done.append(1)
            if len(done) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return dupes
        load.ResponseLoader._write = then_die
        load.ingest_responses(Warehouse({wh.url!r}), Landing({str(landing)!r}), secret={SECRET!r},
                              config=load_config(), chunk_rows=8)
    """)
    assert (landing / "responses" / "a.csv").is_file()  # not audited: the next run takes it again
    [result] = ingest_responses(wh, Landing(str(landing)), secret=SECRET, config=program_config, chunk_rows=8)
    assert result.status == "loaded", result.reason
    assert (_rows(wh, answers), _rows(wh, quarantined)) == expected
    assert wh.scalar("SELECT COUNT(*) FROM ops.ingest_files") == 1


def test_marts_build_killed_half_way_then_rebuilt(warehouse, program_config):
    from nps import marts
    from tests.marts.helpers import Data, nps_team

    wh = warehouse
    d = Data()
    nps_team(d, "A1", [10, 10, 9, 9, 10, 8, 7, 8, 3, 6], datetime(2026, 10, 5, 10))
    d.load(wh)
    marts.rebuild(wh, AS_OF, program_config)
    published = "SELECT * FROM marts.mart_nps"
    before = _rows(wh, published)
    assert wh.scalar("SELECT nps FROM marts.mart_nps WHERE period_grain = 'month' AND dimension = 'all' "
                     "AND period_start = DATE '2026-10-01'") == 30

    killed(f"""
        import os, signal
        from datetime import datetime
        from nps import marts
        from nps.config import load_config
        from nps.warehouse import Warehouse
        real, done = marts.run_mart_sql, []
        def then_die(*args, **kwargs):
            n = real(*args, **kwargs)
            done.append(1)
            if len(done) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return n
        marts.run_mart_sql = then_die
        marts.rebuild(Warehouse({wh.url!r}), datetime(2026, 12, 1, 5, 30), load_config())
    """)
    assert _rows(wh, published) == before  # the half-built staging never touched the published marts
    builds = wh.scalar("SELECT COUNT(*) FROM ops.mart_builds WHERE status = 'published'")
    marts.rebuild(wh, AS_OF, program_config)
    assert _rows(wh, "SELECT COUNT(*) AS n, COUNT(DISTINCT response_id) AS k FROM marts.fct_survey_responses") == [(10, 10)]
    assert _rows(wh, published) == before  # the same answers: the same published NPS
    assert wh.scalar("SELECT COUNT(*) FROM ops.mart_builds WHERE status = 'published'") >= builds
