"""Benchmark the mart rebuild: 10,000,000 responses on DuckDB and 1,000,000 on PostgreSQL.

Data is generated inside the warehouse (INSERT ... SELECT over range/generate_series with
arithmetic pseudo-random values): accounts, contacts, contracts, a ledger with 10% unanswered
invitations, answers (5% of surveys answered twice, 20% with an English or Polish comment).
Then, each scenario in its own subprocess (so peak memory, ru_maxrss, is its own):
- ``rebuild_<engine>``: nps.marts.rebuild (staging, audit, publish of every mart);
- ``sql_nps`` / ``pandas_nps`` (DuckDB): NPS per month x industry with the latest-answer rule,
  once by the shipped SQL that builds ``marts.mart_nps`` (fact table, calendar, the mart: every
  grain and dimension), once by pulling the joined rows into pandas and computing the same cells;
  every cell's answers and NPS value must agree, or the benchmark fails.
- ``incremental_<engine>``: the daily build in the steady state (after the full rebuild and
  yesterday's build, each schema holds a build of its own): a day of NPS_BENCH_MARTS_DAY_ROWS new answers (default 100,000; 5% of them late: answers to invitations
  sent 2 to 90 days before), built incrementally (staging, audit, publish, BI snapshot), then the
  same data rebuilt in full in the same run (``full_rebuild``); every mart of the two builds must
  be identical (EXCEPT ALL both ways), or the benchmark fails.
Prints ``bench <metric> <value> <unit>`` lines. Scale with NPS_BENCH_MARTS_DUCKDB_ROWS,
NPS_BENCH_MARTS_PG_ROWS and NPS_BENCH_MARTS_DAY_ROWS. Usage: .venv/bin/python benchmarks/bench_marts.py
"""

from __future__ import annotations

import json
import logging
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

DUCKDB_ROWS = int(os.environ.get("NPS_BENCH_MARTS_DUCKDB_ROWS", 10_000_000))
PG_ROWS = int(os.environ.get("NPS_BENCH_MARTS_PG_ROWS", 1_000_000))
PG_ADMIN = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DAY_ROWS = int(os.environ.get("NPS_BENCH_MARTS_DAY_ROWS", 100_000))
AS_OF = datetime(2027, 1, 1, 5, 30)
#: The daily build after AS_OF's: a day of new answers, loaded before it.
DAY_AS_OF = datetime(2027, 1, 2, 5, 30)

# {rows}: the series of n integers i, per engine.
SERIES = {"duckdb": "range(0, {n}) AS t(i)", "postgresql": "generate_series(CAST(0 AS BIGINT), {n} - 1) AS t(i)"}
GENERATE = [
    """INSERT INTO src.accounts (account_id, name, industry, segment, region, arr, owner_name, owner_email, created_at)
    SELECT 'A' || CAST(i AS VARCHAR), 'Account ' || CAST(i AS VARCHAR),
        CASE i % 6 WHEN 0 THEN 'Retail' WHEN 1 THEN 'SaaS' WHEN 2 THEN 'Hospitality'
                   WHEN 3 THEN 'Telecommunications' WHEN 4 THEN 'Manufacturing' ELSE 'Fintech' END,
        CASE i % 3 WHEN 0 THEN 'SMB' WHEN 1 THEN 'Mid-Market' ELSE 'Enterprise' END,
        CASE i % 4 WHEN 0 THEN 'EMEA' WHEN 1 THEN 'North America' WHEN 2 THEN 'APAC' ELSE 'LATAM' END,
        CAST(5000 + (i * 7919) % 200000 AS DECIMAL(14, 2)), 'Owner ' || CAST(i % 8 AS VARCHAR),
        'owner@example.com', TIMESTAMP '2024-01-01 00:00:00'
    FROM {accounts}""",
    """INSERT INTO src.contracts (contract_id, account_id, start_date, end_date, arr, ended_reason)
    SELECT 'K' || CAST(i AS VARCHAR), 'A' || CAST(i AS VARCHAR),
        CAST(TIMESTAMP '2024-01-01 00:00:00' + (CAST(i % 700 AS BIGINT) * INTERVAL '1 day') AS DATE),
        CASE WHEN i % 10 = 0 THEN CAST(TIMESTAMP '2026-01-01 00:00:00' + (CAST(i % 360 AS BIGINT) * INTERVAL '1 day') AS DATE) END,
        CAST(5000 + (i * 7919) % 200000 AS DECIMAL(14, 2)), CASE WHEN i % 10 = 0 THEN 'churned' END
    FROM {accounts}""",
    """INSERT INTO src.contacts (contact_id, account_id, first_name, last_name, email, role, locale, consent, created_at)
    SELECT 'P' || CAST(i AS VARCHAR), 'A' || CAST(CAST(FLOOR(i / 5.0) AS BIGINT) AS VARCHAR), 'Pat', 'Doe',
        'p' || CAST(i AS VARCHAR) || '@example.com',
        CASE i % 5 WHEN 0 THEN 'decision_maker' WHEN 1 THEN 'influencer' ELSE 'user' END,
        CASE WHEN CAST(FLOOR(i / 5.0) AS BIGINT) % 4 = 0 THEN 'pl' ELSE 'en' END, TRUE, TIMESTAMP '2024-01-01 00:00:00'
    FROM {contacts}""",
    """INSERT INTO ops.survey_invitations (send_key, survey_id, run_id, cycle, program, survey_type, touchpoint,
        contact_id, account_id, locale, status, claimed_at, sent_at, delivery_status)
    SELECT 'K' || CAST(i AS VARCHAR), 'S' || CAST(i AS VARCHAR), 'bench', 'C' || CAST(i % 8 AS VARCHAR),
        CASE WHEN i % 3 = 0 THEN 'transactional' ELSE 'relationship' END,
        CASE WHEN i % 10 < 6 THEN 'nps' WHEN i % 10 < 8 THEN 'csat' ELSE 'ces' END,
        CASE WHEN i % 3 = 0 THEN CASE i % 4 WHEN 0 THEN 'support_ticket_closed' WHEN 1 THEN 'purchase'
            WHEN 2 THEN 'renewal' ELSE 'product_delivered' END END,
        'P' || CAST(i % {n_contacts} AS VARCHAR), 'A' || CAST(CAST(FLOOR((i % {n_contacts}) / 5.0) AS BIGINT) AS VARCHAR),
        'en', 'sent', TIMESTAMP '2025-01-01 00:00:00' + (CAST((i * 7919) % 60480000 AS BIGINT) * INTERVAL '1 second'),
        TIMESTAMP '2025-01-01 00:00:00' + (CAST((i * 7919) % 60480000 AS BIGINT) * INTERVAL '1 second'),
        CASE WHEN i >= {n_answered} AND i % 7 = 0 THEN 'bounce' ELSE 'delivered' END
    FROM {invitations}""",
    """INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, responded_at, locale,
        file_id, source_line, loaded_at)
    SELECT 'R' || CAST(i AS VARCHAR), 'S' || CAST(i % {n_answered} AS VARCHAR),
        CASE WHEN (i % {n_answered}) % 10 < 6 THEN 'nps' WHEN (i % {n_answered}) % 10 < 8 THEN 'csat' ELSE 'ces' END,
        CASE WHEN (i % {n_answered}) % 10 < 6 THEN (i * 2654435761) % 1000003 % 11
             WHEN (i % {n_answered}) % 10 < 8 THEN 1 + (i * 2654435761) % 1000003 % 5
             ELSE 1 + (i * 2654435761) % 1000003 % 7 END,
        CASE WHEN (i * 40503) % 5 = 0 THEN CASE i % 8
            WHEN 0 THEN 'Support never answered our ticket, slow response time.'
            WHEN 1 THEN 'Pricing is too expensive for the value we get.'
            WHEN 2 THEN 'Great product, the onboarding was smooth!'
            WHEN 3 THEN 'Wsparcie techniczne nie odpowiada, faktury są błędne.'
            WHEN 4 THEN 'Dostawa opóźniona, przesyłka uszkodzona.'
            WHEN 5 THEN 'Missing features and a buggy integration; considering a competitor.'
            WHEN 6 THEN 'Wdrożenie trwało za długo, brakuje funkcji.'
            ELSE 'All good.' END END,
        TIMESTAMP '2025-01-01 00:00:00' + (CAST(((i % {n_answered}) * 7919) % 60480000 + 3600 + (i % 400000) AS BIGINT) * INTERVAL '1 second'),
        NULL, 'F1', i, TIMESTAMP '2027-01-01 00:00:00'
    FROM {responses}""",
]


# A day of answers after the AS_OF build: {n_new} answers to invitations sent that day (to the
# existing contacts), and {n_late} late answers to invitations sent 2 to 90 days before AS_OF that
# had no answer yet; every row loaded after the AS_OF build.
DAY = [
    """INSERT INTO ops.survey_invitations (send_key, survey_id, run_id, cycle, program, survey_type, touchpoint,
        contact_id, account_id, locale, status, claimed_at, sent_at, delivery_status)
    SELECT 'KD' || CAST(i AS VARCHAR), 'SD' || CAST(i AS VARCHAR), 'bench-day', 'C0',
        CASE WHEN i % 3 = 0 THEN 'transactional' ELSE 'relationship' END,
        CASE WHEN i % 10 < 6 THEN 'nps' WHEN i % 10 < 8 THEN 'csat' ELSE 'ces' END,
        CASE WHEN i % 3 = 0 THEN CASE i % 4 WHEN 0 THEN 'support_ticket_closed' WHEN 1 THEN 'purchase'
            WHEN 2 THEN 'renewal' ELSE 'product_delivered' END END,
        'P' || CAST((i * 7919) % {n_contacts} AS VARCHAR),
        'A' || CAST(CAST(FLOOR(((i * 7919) % {n_contacts}) / 5.0) AS BIGINT) AS VARCHAR),
        'en', 'sent', TIMESTAMP '2027-01-01 06:00:00' + (CAST(i % 36000 AS BIGINT) * INTERVAL '1 second'),
        TIMESTAMP '2027-01-01 06:00:00' + (CAST(i % 36000 AS BIGINT) * INTERVAL '1 second'), 'delivered'
    FROM {new}""",
    """INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, responded_at, locale,
        file_id, source_line, loaded_at)
    SELECT 'RD' || CAST(i AS VARCHAR), 'SD' || CAST(i AS VARCHAR),
        CASE WHEN i % 10 < 6 THEN 'nps' WHEN i % 10 < 8 THEN 'csat' ELSE 'ces' END,
        CASE WHEN i % 10 < 6 THEN (i * 2654435761) % 1000003 % 11
             WHEN i % 10 < 8 THEN 1 + (i * 2654435761) % 1000003 % 5
             ELSE 1 + (i * 2654435761) % 1000003 % 7 END,
        CASE WHEN i % 5 = 0 THEN 'Support never answered our ticket, slow response time.' END,
        TIMESTAMP '2027-01-01 08:00:00' + (CAST(i % 36000 AS BIGINT) * INTERVAL '1 second'),
        NULL, 'FD', i, TIMESTAMP '2027-01-02 05:00:00'
    FROM {new}""",
    """INSERT INTO ops.raw_responses (response_id, survey_id, survey_type, score, comment, responded_at, locale,
        file_id, source_line, loaded_at)
    SELECT 'RL' || CAST(rn AS VARCHAR), survey_id, survey_type,
        CASE WHEN survey_type = 'nps' THEN rn % 11 WHEN survey_type = 'csat' THEN 1 + rn % 5 ELSE 1 + rn % 7 END,
        NULL, sent_at + INTERVAL '1 day', NULL, 'FL', rn, TIMESTAMP '2027-01-02 05:00:00'
    FROM (
        SELECT i.survey_id, i.survey_type, i.sent_at, ROW_NUMBER() OVER (ORDER BY i.survey_id) AS rn
        FROM ops.survey_invitations AS i
        WHERE i.sent_at >= TIMESTAMP '2026-10-03 00:00:00' AND i.sent_at < TIMESTAMP '2026-12-30 00:00:00'
            AND NOT EXISTS (SELECT 1 FROM ops.raw_responses AS r WHERE r.survey_id = i.survey_id)
    ) AS x
    WHERE rn <= {n_late}""",
]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def cpu_s() -> float:
    """CPU seconds of this process (user + system, all threads): less noisy than wall time on a shared machine."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def sizes(rows: int) -> dict[str, int]:
    n_answered = int(rows * 0.95)  # 5% of surveys answered twice
    n_contacts = max(5, rows // 10)
    return {
        "responses": rows,
        "n_answered": n_answered,
        "invitations": int(n_answered * 1.1),  # 10% never answered
        "contacts": n_contacts,
        "n_contacts": n_contacts,
        "accounts": n_contacts // 5,
    }


def scenario_generate(url: str, rows: int) -> dict:
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    wh.migrate()
    s = sizes(rows)
    series = SERIES[wh.dialect]
    t0 = time.perf_counter()
    with wh.begin() as conn:
        for stmt in GENERATE:
            fmt = {k: series.format(n=v) for k, v in s.items() if k in ("accounts", "contacts", "invitations", "responses")}
            fmt.update(n_answered=s["n_answered"], n_contacts=s["n_contacts"])
            wh.run_sql(conn, stmt.format(**fmt))
    if wh.dialect == "postgresql":
        with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    wh.dispose()
    return {"seconds": time.perf_counter() - t0}


def scenario_rebuild(url: str) -> dict:
    from nps import marts
    from nps.config import load_config
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    config = load_config()
    t0, c0 = time.perf_counter(), cpu_s()
    counts = marts.rebuild(wh, AS_OF, config)
    seconds = time.perf_counter() - t0
    # The BI snapshot is part of every DuckDB publish (included above); timed once more alone.
    from nps import bi

    t1 = time.perf_counter()
    snapshot = bi.export_snapshot(wh, marts.MARTS, force=True)
    snapshot_s = time.perf_counter() - t1 if snapshot else None
    wh.dispose()
    return {"seconds": seconds, "cpu_s": cpu_s() - c0, "peak_mb": peak_mb(), "fct_rows": counts["fct_survey_responses"],
            "snapshot_s": snapshot_s, "snapshot_mb": snapshot.stat().st_size / 1e6 if snapshot else None}


def scenario_incremental(url: str, rows: int, day_rows: int) -> dict:
    """The day's answers loaded, an incremental build (timed), then a full rebuild of the same data (timed)."""
    from nps import marts
    from nps.config import load_config
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    config = load_config()
    s = sizes(rows)
    n_late = day_rows // 20
    series = SERIES[wh.dialect]
    # Yesterday's build (not timed): nothing new since the full rebuild, so the other build schema
    # gets a build of its own; from then on every daily build updates its schema in place.
    marts.rebuild(wh, AS_OF, config)
    t0 = time.perf_counter()
    with wh.begin() as conn:
        for stmt in DAY:
            wh.run_sql(conn, stmt.format(new=series.format(n=day_rows - n_late), n_late=n_late, n_contacts=s["n_contacts"]))
    late = wh.scalar("SELECT COUNT(*) FROM ops.raw_responses WHERE file_id = 'FL'")
    if int(late) != n_late:
        raise SystemExit(f"only {late} of {n_late} late answers could be generated (too few unanswered invitations)")
    if wh.dialect == "postgresql":
        with wh.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("ANALYZE")
    load_s = time.perf_counter() - t0
    # Part of every DuckDB publish (the BI snapshot: a full copy of the published marts), timed apart.
    from nps import bi

    export, exported = bi.export_for_readers, []

    def timed_export(*args, **kwargs):
        t = time.perf_counter()
        try:
            return export(*args, **kwargs)
        finally:
            exported.append(time.perf_counter() - t)

    bi.export_for_readers = timed_export
    steps = _StepLog()
    t0, c0 = time.perf_counter(), cpu_s()
    with steps:
        marts.rebuild(wh, DAY_AS_OF, config)
    inc_s, inc_cpu = time.perf_counter() - t0, cpu_s() - c0
    inc_snapshot_s = sum(exported)
    incremental = marts.published_schema(wh)
    state = marts.build_state(wh, incremental)
    if state["mode"] != "incremental":
        raise SystemExit(f"the daily build was not incremental: {state['reason']}")
    t0, c0 = time.perf_counter(), cpu_s()
    marts.rebuild(wh, DAY_AS_OF, config, full_rebuild=True)
    full_s, full_cpu = time.perf_counter() - t0, cpu_s() - c0
    bi.export_for_readers = export
    full = marts.published_schema(wh)
    # Row for row: every mart of the incremental build against the full rebuild's, both ways.
    differ = {}
    if os.environ.get("NPS_BENCH_MARTS_COMPARE", "1") != "0":
        for table in marts.MARTS:
            n = wh.scalar(f"SELECT COUNT(*) FROM (SELECT * FROM {incremental}.{table} EXCEPT ALL "
                          f"SELECT * FROM {full}.{table}) AS x")
            m = wh.scalar(f"SELECT COUNT(*) FROM (SELECT * FROM {full}.{table} EXCEPT ALL "
                          f"SELECT * FROM {incremental}.{table}) AS x")
            if n or m:
                differ[table] = [int(n), int(m)]
    wh.dispose()
    return {"load_s": load_s, "seconds": inc_s, "cpu_s": inc_cpu, "full_s": full_s, "full_cpu_s": full_cpu,
            "snapshot_s": inc_snapshot_s, "steps": steps.lines, "reason": state["reason"], "changed_surveys": int(state["changed_surveys"]), "late": int(late), "differ": differ, "peak_mb": peak_mb()}


class _StepLog(logging.Handler):
    """The build's own log lines (per-step timings) while in a ``with`` block, seconds since its start."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []
        self.started = 0.0

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{time.perf_counter() - self.started:6.1f} s  {record.getMessage()[:160]}")

    def __enter__(self) -> _StepLog:
        self.started = time.perf_counter()
        for name in ("nps.marts", "nps.bi"):
            logging.getLogger(name).addHandler(self)
            logging.getLogger(name).setLevel(logging.INFO)
        return self

    def __exit__(self, *exc: object) -> None:
        for name in ("nps.marts", "nps.bi"):
            logging.getLogger(name).removeHandler(self)


def report_incremental(engine: str, r: dict) -> None:
    if r["differ"]:
        raise SystemExit(f"{engine}: incremental and full builds differ (rows only in one, other): {r['differ']}")
    print(f"# {engine}: daily build after {DAY_ROWS} new answers ({r['late']} late), {r['changed_surveys']} surveys "
          f"recomputed ({r['reason']}); every mart identical to the full rebuild of the same data in this run",
          flush=True)
    for line in r["steps"]:  # the build log, for where the time goes
        print(f"#   {engine} incremental: {line}", flush=True)
    bench(f"marts_incremental_{engine}_s", r["seconds"], "s")
    bench(f"marts_incremental_{engine}_cpu_s", r["cpu_s"], "s")
    bench(f"marts_incremental_{engine}_full_s", r["full_s"], "s")
    bench(f"marts_incremental_{engine}_ratio", r["seconds"] / r["full_s"], "x")
    if engine == "duckdb":
        bench("marts_incremental_duckdb_bi_snapshot_s", r["snapshot_s"], "s")
        bench("marts_incremental_duckdb_without_snapshot_s", r["seconds"] - r["snapshot_s"], "s")


PULL_SQL = """
SELECT r.response_id, r.survey_id, r.score, r.responded_at, a.industry
FROM ops.raw_responses AS r
JOIN ops.survey_invitations AS i ON i.survey_id = r.survey_id
LEFT JOIN src.accounts AS a ON a.account_id = i.account_id
WHERE i.survey_type = 'nps' AND r.responded_at < ?
"""


def scenario_sql_nps(url: str) -> dict:
    """The shipped SQL that makes marts.mart_nps (fact table, calendar, mart_nps), run into the staging schema."""
    from nps import marts
    from nps.config import load_config
    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    params = marts.build_params(AS_OF, load_config())
    target = marts.staging_schema(wh)
    with wh.begin() as conn:
        for table in (f"{target}.fct_survey_responses", f"{target}.mart_nps", "ops.mart_calendar"):
            wh.run_sql(conn, f"DELETE FROM {table}")
    t0, c0 = time.perf_counter(), cpu_s()
    for step in ("fct_survey_responses", "calendar", "mart_nps"):
        with wh.begin() as conn:
            marts._tune(wh, conn)
            marts.run_mart_sql(wh, conn, step, target, params)
    seconds = time.perf_counter() - t0
    rows = wh.query(f"SELECT period_start, dimension_value, responses, nps FROM {target}.mart_nps "
                    "WHERE period_grain = 'month' AND dimension = 'industry' AND responses > 0")
    wh.dispose()
    cells = {f"{r['period_start']:%Y-%m}|{r['dimension_value']}": [int(r["responses"]), float(r["nps"])] for r in rows}
    return {"seconds": seconds, "cpu_s": cpu_s() - c0, "peak_mb": peak_mb(), "cells": cells}


def scenario_pandas_nps(url: str) -> dict:
    """The same cells (NPS per month x industry, latest answer per survey before as_of) computed in pandas."""
    import pandas  # noqa: F401  (imported before the clock starts, like the warehouse driver)

    from nps.warehouse import Warehouse

    wh = Warehouse(url)
    t0, c0 = time.perf_counter(), cpu_s()
    with wh.engine.connect() as conn:  # the fastest pull there is: DuckDB straight to a DataFrame
        df = conn.connection.driver_connection.execute(PULL_SQL, [AS_OF]).df()
    pulled = time.perf_counter() - t0
    pulled_rows = len(df)
    df = df.sort_values(["survey_id", "responded_at", "response_id"]).drop_duplicates("survey_id", keep="last")
    df["month"] = df["responded_at"].dt.strftime("%Y-%m")
    df["promoter"] = df["score"] >= 9
    df["detractor"] = df["score"] <= 6
    g = df.groupby(["month", "industry"]).agg(n=("score", "size"), p=("promoter", "sum"), d=("detractor", "sum"))
    g["nps"] = 100.0 * (g["p"] - g["d"]) / g["n"]
    seconds = time.perf_counter() - t0
    wh.dispose()
    cells = {f"{m}|{ind}": [int(row.n), float(row.nps)] for (m, ind), row in g.iterrows()}
    return {"seconds": seconds, "cpu_s": cpu_s() - c0, "pull_seconds": pulled, "peak_mb": peak_mb(), "cells": cells,
            "rows_pulled": pulled_rows}


def compare_cells(sql: dict[str, list], pandas: dict[str, list]) -> list[str]:
    """Cells where the mart and pandas disagree (answers exactly, NPS within the mart's rounding)."""
    bad = [f"{k}: only in {'the mart' if k in sql else 'pandas'}" for k in sorted(set(sql) ^ set(pandas))]
    for k in sorted(set(sql) & set(pandas)):
        (n1, v1), (n2, v2) = sql[k], pandas[k]
        if n1 != n2 or abs(v1 - v2) > 0.005 + 1e-9:
            bad.append(f"{k}: mart {n1} answers NPS {v1:.2f}, pandas {n2} answers NPS {v2:.4f}")
    return bad


def run_child(name: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--scenario", name, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.stderr.write(out.stdout + out.stderr)
        raise SystemExit(f"scenario {name} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(metric: str, value: float, unit: str) -> None:
    print(f"bench {metric} {value:.2f} {unit}" if value < 100 else f"bench {metric} {value:.0f} {unit}", flush=True)


def main() -> int:
    import sqlalchemy as sa

    from nps.warehouse import normalize_url

    tag = uuid.uuid4().hex[:8]
    duck_path = Path(f"/tmp/nps_bench_marts_{tag}.duckdb")
    duck_url = f"duckdb:///{duck_path}"
    # The BI snapshot and its copies per build schema, named for this run (and removed after it).
    snapshot = Path(f"/tmp/nps_bench_marts_{tag}_bi.duckdb")
    os.environ["NPS_BI_SNAPSHOT"] = str(snapshot)
    try:
        gen = run_child("generate", duck_url, str(DUCKDB_ROWS))
        label = f"{DUCKDB_ROWS // 1_000_000}m" if DUCKDB_ROWS >= 1_000_000 else f"{DUCKDB_ROWS // 1000}k"
        bench(f"marts_duckdb_{label}_generate_s", gen["seconds"], "s")
        r = run_child("rebuild", duck_url)
        bench(f"marts_duckdb_{label}_rebuild_s", r["seconds"], "s")
        inc = run_child("incremental", duck_url, str(DUCKDB_ROWS), str(DAY_ROWS))
        report_incremental("duckdb", inc)
        bench(f"marts_duckdb_{label}_rebuild_cpu_s", r["cpu_s"], "s")
        bench(f"marts_duckdb_{label}_peak_mb", r["peak_mb"], "MB")
        bench(f"marts_duckdb_{label}_bi_snapshot_s", r["snapshot_s"], "s")
        bench(f"marts_duckdb_{label}_bi_snapshot_mb", r["snapshot_mb"], "MB")
        bench(f"marts_duckdb_{label}_responses_per_s", DUCKDB_ROWS / r["seconds"], "/s")
        # Like for like: the same slice (NPS per month x industry, latest answer per survey) from
        # the same raw rows (ops.raw_responses joined to the ledger and accounts), once computed
        # by one warehouse query, once by pulling those rows into pandas and computing there.
        s = run_child("sql_nps", duck_url)
        p = run_child("pandas_nps", duck_url)
        answers = sum(n for n, _ in s["cells"].values())
        print(
            f"# compared: NPS per month x industry (latest answer per survey before as_of); warehouse: the shipped "
            f"SQL of marts.mart_nps (fact table, calendar, every grain and dimension), {len(s['cells'])} month x "
            f"industry cells / {answers} counted answers; pandas: pull {p['rows_pulled']} joined rows + dedupe + "
            f"groupby, {len(p['cells'])} cells",
            flush=True,
        )
        bad = compare_cells(s["cells"], p["cells"])
        if bad:
            raise SystemExit("the mart and pandas disagree (not like for like):\n  " + "\n  ".join(bad[:20]))
        print(f"# every cell agrees: answers and NPS (to the mart's 2 decimals) in {len(s['cells'])} cells", flush=True)
        bench("marts_duckdb_nps_month_industry_s", s["seconds"], "s")
        bench("marts_duckdb_nps_month_industry_cpu_s", s["cpu_s"], "s")
        bench("marts_pandas_nps_month_industry_s", p["seconds"], "s")
        bench("marts_pandas_nps_month_industry_cpu_s", p["cpu_s"], "s")
        bench("marts_pandas_pull_s", p["pull_seconds"], "s")
        bench("marts_pandas_peak_mb", p["peak_mb"], "MB")
        bench("marts_warehouse_speedup", p["seconds"] / s["seconds"], "x")
    finally:
        for path in (duck_path, snapshot, *snapshot.parent.glob(f".{snapshot.stem}.*")):
            for suffix in ("", ".wal"):
                Path(str(path) + suffix).unlink(missing_ok=True)

    admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    db = f"nps_bench_marts_{tag}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{db}"'))
    pg_url = sa.make_url(normalize_url(PG_ADMIN)).set(database=db).render_as_string(hide_password=False)
    try:
        label = f"{PG_ROWS // 1_000_000}m" if PG_ROWS >= 1_000_000 else f"{PG_ROWS // 1000}k"
        gen = run_child("generate", pg_url, str(PG_ROWS))
        bench(f"marts_pg_{label}_generate_s", gen["seconds"], "s")
        r = run_child("rebuild", pg_url)
        bench(f"marts_pg_{label}_rebuild_s", r["seconds"], "s")
        bench(f"marts_pg_{label}_rebuild_cpu_s", r["cpu_s"], "s")
        # The client process's peak (the build runs in the server; its memory is not measured here).
        bench(f"marts_pg_{label}_client_peak_mb", r["peak_mb"], "MB")
        bench(f"marts_pg_{label}_responses_per_s", PG_ROWS / r["seconds"], "/s")
        inc = run_child("incremental", pg_url, str(PG_ROWS), str(DAY_ROWS))
        report_incremental("postgresql", inc)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--scenario":
        name, args = sys.argv[2], sys.argv[3:]
        fn = {
            "generate": lambda: scenario_generate(args[0], int(args[1])),
            "rebuild": lambda: scenario_rebuild(args[0]),
            "incremental": lambda: scenario_incremental(args[0], int(args[1]), int(args[2])),
            "sql_nps": lambda: scenario_sql_nps(args[0]),
            "pandas_nps": lambda: scenario_pandas_nps(args[0]),
        }[name]
        print(json.dumps(fn()))
        sys.exit(0)
    sys.exit(main())
