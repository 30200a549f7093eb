"""Benchmark: ingest a 1,000,000-row response file (about 1% bad rows) on DuckDB and PostgreSQL.

Generates dispatched surveys (ledger rows) and response files once under /tmp, then runs each
scenario in a fresh subprocess (ledger set-up in one, the measured ingestion in another, so
ru_maxrss is the ingestion's own peak): parse, verify tokens, validate with GX, load, audit.
Prints ``bench <metric> <value> <unit>`` lines:

- ingest_<engine>_rows_per_s, ingest_<engine>_seconds, ingest_<engine>_cpu_seconds,
  ingest_<engine>_peak_mb  (1M rows; CPU seconds tell what a shared, busy machine hides)
- ingest_duckdb_2m_peak_mb and ingest_memory_ratio_2m_vs_1m  (bounded memory: target <= 1.2)

Targets (2 cores, issue 16): 1M rows within 15 s on DuckDB and 20 s on PostgreSQL, peak memory < 1 GB.
Run: ``.venv/bin/python benchmarks/bench_ingest.py`` from the project root. The generated inputs
(about 450 MB) stay in /tmp/nps-bench-ingest and are reused by the next run; warehouses are
scratch (a DuckDB file there, a PostgreSQL database dropped at the end).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
WORK = Path("/tmp/nps-bench-ingest")
SECRET = "bench-secret-not-for-production-0123456789"
PG_ADMIN = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
NOW = "2026-11-30T00:00:00"
SMALL, BIG = 1_000_000, 2_000_000


def generate(n: int) -> None:
    """Ledger (parquet) for n surveys and a CSV of n responses, one per survey, ~1% bad."""
    import numpy as np
    import pandas as pd

    from nps.tokens import TokenSigner

    signer = TokenSigner(SECRET)
    rng = np.random.default_rng(42)
    ids = np.char.add("S", np.char.zfill(np.arange(n).astype(str), 9))
    types = np.array(["nps", "csat", "ces"])[np.arange(n) % 3]
    sent = pd.Timestamp("2026-11-01 06:00") + pd.to_timedelta(rng.integers(0, 10 * 86400, n), unit="s")
    ledger = pd.DataFrame({
        "send_key": np.char.add("K", ids), "survey_id": ids, "run_id": "bench", "cycle": "2026-Q4",
        "program": "relationship", "survey_type": types, "contact_id": np.char.add("P", ids),
        "account_id": "A000001", "locale": "en", "status": "sent", "transport": "outbox",
        "claimed_at": sent.astype("datetime64[us]"), "sent_at": sent.astype("datetime64[us]"),
    })
    ledger.to_parquet(WORK / f"ledger_{n}.parquet", index=False)
    hi = np.where(types == "nps", 10, np.where(types == "csat", 5, 7))
    lo = np.where(types == "nps", 0, 1)
    score = (lo + rng.random(n) * (hi - lo + 1)).astype(int).astype(str).astype(object)
    responded = sent + pd.to_timedelta(rng.integers(600, 3 * 86400, n), unit="s")
    tokens = [signer.sign(s, t) for s, t in zip(ids, types, strict=True)]
    comments = np.where(rng.random(n) < 0.3, "Support was slow, but the product works; thanks!", "")
    bad = rng.random(n)
    for i in np.flatnonzero(bad < 0.003):
        tokens[i] = tokens[i][:-2] + "xx"
    score[(bad >= 0.003) & (bad < 0.006)] = "11"
    score[(bad >= 0.006) & (bad < 0.008)] = "ten"
    responded = responded.where(~((bad >= 0.008) & (bad < 0.010)), sent - pd.Timedelta(hours=1))
    df = pd.DataFrame({"token": tokens, "score": score, "comment": comments,
                       "responded_at": responded.strftime("%Y-%m-%dT%H:%M:%SZ"), "locale": "en"})
    df.to_csv(WORK / f"responses_{n}.csv", index=False, lineterminator="\n")


def _warehouse_url(engine: str, tag: str) -> str:
    if engine == "duckdb":
        return f"duckdb:///{WORK / f'{tag}.duckdb'}"
    import sqlalchemy as sa

    return sa.make_url(PG_ADMIN).set(database=f"nps_bench_ingest_{tag}").render_as_string(hide_password=False)


def setup(engine: str, n: int, tag: str) -> None:
    """Fresh migrated warehouse with the ledger of n surveys (its own process: not measured)."""
    import pandas as pd
    import sqlalchemy as sa

    from nps.warehouse import Warehouse, normalize_url

    url = _warehouse_url(engine, tag)
    if engine == "postgresql":
        admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "nps_bench_ingest_{tag}"'))
            conn.execute(sa.text(f'CREATE DATABASE "nps_bench_ingest_{tag}"'))
        admin.dispose()
    wh = Warehouse(url)
    wh.migrate()
    ledger = pd.read_parquet(WORK / f"ledger_{n}.parquet")
    with wh.begin() as conn:
        for start in range(0, len(ledger), 250_000):
            wh.load_df(conn, "ops.survey_invitations", ledger.iloc[start : start + 250_000])
    if engine == "postgresql":
        with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE ops.survey_invitations"))
    wh.dispose()


def measure(engine: str, n: int, tag: str) -> dict:
    """Ingest the n-row file; returns seconds, peak memory and the audit (measured process)."""
    os.environ["NPS_FAKE_NOW"] = NOW
    from nps.config import load_config
    from nps.ingest.landing import Landing
    from nps.ingest.load import ingest_responses
    from nps.warehouse import Warehouse

    landing = WORK / f"landing_{tag}"
    shutil.rmtree(landing, ignore_errors=True)
    (landing / "responses").mkdir(parents=True)
    os.link(WORK / f"responses_{n}.csv", landing / "responses" / f"responses_{n}.csv")
    wh = Warehouse(_warehouse_url(engine, tag))
    import great_expectations  # noqa: F401 - a fixed start-up cost (seconds), not per-row work

    t0 = time.perf_counter()
    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    [r] = ingest_responses(wh, Landing(str(landing)), secret=SECRET, config=load_config())
    seconds = time.perf_counter() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    loaded = wh.scalar("SELECT COUNT(*) FROM ops.raw_responses")
    wh.dispose()
    shutil.rmtree(landing, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "cpu_seconds": cpu, "peak_mb": peak_mb, "rows_read": r.rows_read, "loaded": r.rows_loaded,
            "quarantined": r.rows_quarantined, "duplicates": r.rows_duplicate, "in_table": loaded}


def teardown(engine: str, tag: str) -> None:
    if engine == "duckdb":
        for suffix in (".duckdb", ".duckdb.wal"):
            (WORK / f"{tag}{suffix}").unlink(missing_ok=True)
        return
    import sqlalchemy as sa

    from nps.warehouse import normalize_url

    admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "nps_bench_ingest_{tag}" WITH (FORCE)'))
    admin.dispose()


def _child(*args: str) -> str:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "plugins"), "GX_ANALYTICS_ENABLED": "False"}
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, env=env, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"scenario {' '.join(args)} failed:\n{out.stderr[-3000:]}")
    return out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""


def scenario(engine: str, n: int) -> dict:
    tag = f"{engine}_{n}_{uuid.uuid4().hex[:6]}"
    try:
        _child("--setup", engine, str(n), tag)
        res = json.loads(_child("--measure", engine, str(n), tag))
    finally:
        _child("--teardown", engine, "0", tag)
    assert res["rows_read"] == n, res
    assert res["rows_read"] == res["loaded"] + res["quarantined"] + res["duplicates"], res
    assert res["in_table"] == res["loaded"], res
    return res


def main() -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    for n in (SMALL, BIG):
        if not (WORK / f"responses_{n}.csv").exists() or not (WORK / f"ledger_{n}.parquet").exists():
            _child("--generate", "-", str(n))
    print(f"# generated inputs in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    results = {}
    for engine, n in (("duckdb", SMALL), ("postgresql", SMALL), ("duckdb", BIG)):
        res = scenario(engine, n)
        results[(engine, n)] = res
        print(f"# {engine} {n:,} rows: {res}", file=sys.stderr)
        if n == SMALL:
            print(f"bench ingest_{engine}_rows_per_s {n / res['seconds']:.0f} /s")
            print(f"bench ingest_{engine}_seconds {res['seconds']:.1f} s")
            # CPU time of the ingesting process: what wall time would be on an otherwise idle machine
            print(f"bench ingest_{engine}_cpu_seconds {res['cpu_seconds']:.1f} s")
            print(f"bench ingest_{engine}_peak_mb {res['peak_mb']:.0f} MB")
            print(f"bench ingest_{engine}_quarantined {res['quarantined']} rows")
    big, small = results[("duckdb", BIG)], results[("duckdb", SMALL)]
    print(f"bench ingest_duckdb_2m_seconds {big['seconds']:.1f} s")
    print(f"bench ingest_duckdb_2m_peak_mb {big['peak_mb']:.0f} MB")
    print(f"bench ingest_memory_ratio_2m_vs_1m {big['peak_mb'] / small['peak_mb']:.2f} x")
    print(f"# total {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1].startswith("--"):
        step, engine, n, tag = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
        if step == "--setup":
            setup(engine, n, tag)
        elif step == "--measure":
            print(json.dumps(measure(engine, n, tag)))
        elif step == "--teardown":
            teardown(engine, tag)
    elif len(sys.argv) == 4 and sys.argv[1] == "--generate":
        generate(int(sys.argv[3]))
    else:
        main()
