"""Benchmark the KPI reports: the monthly report for every configured recipient plus 50 segment
variants, rendered (scorecard, charts, HTML/text/CSV), archived and sent to the local
SendGrid-compatible server, on marts built from 10,000,000 answers (DuckDB).

Set-up (not timed): the answers are generated and the marts rebuilt exactly as
``bench_marts.py`` does (its scenarios, each in its own process). The timed scenario runs in its
own process too, so its peak memory (ru_maxrss) is its own; the fake SendGrid server runs in a
separate process (``python -m tests.support.sendgrid_server``). Prints ``bench <metric> <value> <unit>``.
Scale with NPS_BENCH_REPORTS_ROWS (default 10,000,000). Target on 2 cores: <= 20 s, < 1 GB.
Usage: .venv/bin/python benchmarks/bench_reports.py
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
sys.path.insert(0, str(ROOT / "benchmarks"))

ROWS = int(os.environ.get("NPS_BENCH_REPORTS_ROWS", 10_000_000))
VARIANTS = 50
PERIOD_START = date(2026, 11, 1)   # a month complete by bench_marts.AS_OF (2027-01-01)
DIMENSION_VALUES = [
    ("industry", v) for v in ("Retail", "SaaS", "Hospitality", "Telecommunications", "Manufacturing", "Fintech")
] + [("segment", v) for v in ("SMB", "Mid-Market", "Enterprise")] + [
    ("region", v) for v in ("EMEA", "North America", "APAC", "LATAM")] + [
    ("role", v) for v in ("decision_maker", "influencer", "user")] + [
    ("touchpoint", v) for v in ("(relationship)", "support_ticket_closed", "purchase", "renewal", "product_delivered")]


def bench_config():
    """The program config with 50 segment variants of the monthly report, one recipient each."""
    from nps.config import load_config, parse_config

    data = load_config().model_dump(mode="json", exclude_none=True)
    data["reports"]["segments"] = [
        {"name": f"v{i:02d}-{dim}", "dimension": dim, "value": val, "reports": ["monthly"],
         "recipients": [{"email": f"lead{i:02d}@example.com", "locale": "pl" if i % 3 == 2 else "en"}]}
        for i, (dim, val) in enumerate(DIMENSION_VALUES[i % len(DIMENSION_VALUES)] for i in range(VARIANTS))
    ]
    return parse_config(data)


def scenario_reports(url: str, server_url: str, archive: str) -> dict:
    import resource

    from bench_marts import peak_mb

    def cpu_s() -> float:
        """CPU seconds of this process and its finished worker processes."""
        own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime

    def children_peak_mb() -> float:
        return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0

    from nps.email.sendgrid import SendGridHook
    from nps.reports.periods import period_of
    from nps.reports.stage import render_and_archive, send_planned
    from nps.warehouse import Warehouse

    config = bench_config()
    wh = Warehouse(url)
    import matplotlib  # noqa: F401  imported before the clock, like the warehouse driver
    import sqlalchemy  # noqa: F401

    period = period_of("monthly", PERIOD_START)
    t0, c0 = time.perf_counter(), cpu_s()
    produced = render_and_archive(wh, config, period, store_uri=archive)
    rendered_s = time.perf_counter() - t0
    hook = SendGridHook("SG.bench", host=server_url, timeout=30, max_retries=2)
    # Through the exactly-once ledger (ops.message_ledger), as the DAG sends them.
    result, planned = send_planned(wh, config, period, hook, run_id="bench", store_uri=archive,
                                   archive_error=produced.archive_error)
    seconds = time.perf_counter() - t0
    wh.dispose()
    return {"seconds": seconds, "render_archive_s": rendered_s, "cpu_s": cpu_s() - c0, "peak_mb": peak_mb(), "worker_peak_mb": children_peak_mb(),
            "reports": len(produced.rendered), "archived": len(produced.archived), "archive_error": produced.archive_error,
            "emails": result.sent, "requests": hook.requests, "skipped": planned.skipped, "errors": result.errors}


def run_child(script: Path, name: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, str(script), "--scenario", name, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        sys.stderr.write(out.stdout[-5000:] + out.stderr[-5000:])
        raise SystemExit(f"scenario {name} failed")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench(metric: str, value: float, unit: str) -> None:
    print(f"bench {metric} {value:.2f} {unit}" if value < 100 else f"bench {metric} {value:.0f} {unit}", flush=True)


def main() -> int:
    marts_script = ROOT / "benchmarks" / "bench_marts.py"
    tag = uuid.uuid4().hex[:8]
    duck_path = Path(f"/tmp/nps_bench_reports_{tag}.duckdb")
    duck_url = f"duckdb:///{duck_path}"
    archive = tempfile.mkdtemp(prefix="nps_bench_reports_archive_")
    server = subprocess.Popen([sys.executable, "-m", "tests.support.sendgrid_server", "0", "SG.bench"], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"})
    try:
        server_url = server.stdout.readline().strip()
        label = f"{ROWS // 1_000_000}m" if ROWS >= 1_000_000 else f"{ROWS // 1000}k"
        gen = run_child(marts_script, "generate", duck_url, str(ROWS))
        print(f"# set-up: {ROWS} answers generated in {gen['seconds']:.0f} s", flush=True)
        built = run_child(marts_script, "rebuild", duck_url)
        print(f"# set-up: marts rebuilt in {built['seconds']:.0f} s ({built['fct_rows']} counted answers)", flush=True)
        r = run_child(Path(__file__), "reports", duck_url, server_url, archive)
        if r["errors"] or r["archive_error"]:
            raise SystemExit(f"reports benchmark did not complete: {r['errors'] or r['archive_error']}")
        print(f"# {r['reports']} reports rendered and archived ({r['archived']} folders), {r['emails']} emails sent "
              f"in {r['requests']} requests; marts from {label} answers", flush=True)
        bench("reports_duckdb_s", r["seconds"], "s")
        bench("reports_duckdb_render_archive_s", r["render_archive_s"], "s")
        bench("reports_duckdb_cpu_s", r["cpu_s"], "s")
        bench("reports_duckdb_peak_mb", r["peak_mb"], "MB")
        bench("reports_duckdb_worker_peak_mb", r["worker_peak_mb"], "MB")
        bench("reports_duckdb_reports", r["reports"], "reports")
        bench("reports_duckdb_emails", r["emails"], "emails")
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(archive, ignore_errors=True)
        for suffix in ("", ".wal"):
            Path(str(duck_path) + suffix).unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--scenario":
        fn = {"reports": scenario_reports}[sys.argv[2]]
        print(json.dumps(fn(*sys.argv[3:]), default=str))
        sys.exit(0)
    sys.exit(main())
