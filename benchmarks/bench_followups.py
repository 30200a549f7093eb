"""Benchmark: close the loop on ~100,000 new answers on a 1,000,000-contact base: decide every one,
open the cases, send the follow-ups and the owner alerts through the exactly-once ledger to a local
SendGrid-compatible server, then rerun.

Run from the repository root: ``.venv/bin/python benchmarks/bench_followups.py``.

1. ``prepare`` (a subprocess): C contacts in C/50 accounts (one in a hundred at 250,000 ARR:
   their detractors are urgent alerts), and for N of them one sent invitation and one answer each
   (NPS 0-10, CSAT 1-5, CES 1-7 in turn), loaded in sets into a scratch DuckDB file and a scratch
   PostgreSQL database.
2. ``run`` (a fresh subprocess per engine, so peak memory is that scenario's alone): ``decide``,
   ``send_followups`` and ``owner_alerts`` to the server (``tests.support.sendgrid_server``, its
   own process), and a rerun of all three (nothing new: every decision is taken, every key is in
   the ledger). The server holds every request to the Mail Send rules (``--validate``).
   ``followups_<engine>_per_s`` is answers / (decide + send + owner alerts).

Prints ``bench <metric> <value> <unit>`` lines. Env: NPS_BENCH_FOLLOWUP_ANSWERS (100000),
NPS_BENCH_FOLLOWUP_CONTACTS (1000000), NPS_BENCH_FOLLOWUP_PG (1: also PostgreSQL), NPS_TEST_PG_URL.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "plugins"), str(ROOT)]

PG_ADMIN = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
N = int(os.environ.get("NPS_BENCH_FOLLOWUP_ANSWERS", "100000"))
C = max(N, int(os.environ.get("NPS_BENCH_FOLLOWUP_CONTACTS", "1000000")))
WITH_PG = os.environ.get("NPS_BENCH_FOLLOWUP_PG", "1").strip().lower() in ("1", "true", "yes")
NOW = datetime(2026, 10, 7, 12)
SECRET = "bench-secret-not-for-production-0123456789"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def prepare(url: str) -> None:
    import pandas as pd

    from nps.warehouse import Warehouse

    t = time.perf_counter()
    wh = Warehouse(url)
    wh.migrate()
    all_ids = [f"{i:07d}" for i in range(C)]
    ids = all_ids[:N]
    n_acc = max(1, C // 50)
    accounts = pd.DataFrame({
        "account_id": [f"A{i:05d}" for i in range(n_acc)], "name": [f"Account {i}" for i in range(n_acc)],
        "industry": "SaaS", "segment": "SMB", "region": "EMEA",
        "arr": [250000.0 if i % 100 == 0 else 10000.0 for i in range(n_acc)],
        "owner_name": [f"Owner {i % 40}" for i in range(n_acc)],
        "owner_email": [f"owner{i % 40}@example.com" if i % 97 else "" for i in range(n_acc)],
        "created_at": datetime(2025, 1, 1)})
    types = ["nps", "csat", "ces"]
    lo = {"nps": 0, "csat": 1, "ces": 1}
    span = {"nps": 11, "csat": 5, "ces": 7}
    st = [types[i % 3] for i in range(N)]
    all_contacts = pd.DataFrame({
        "contact_id": [f"P{x}" for x in all_ids], "account_id": [f"A{i % n_acc:05d}" for i in range(C)],
        "first_name": "Jo", "last_name": [f"P{x}" for x in all_ids], "email": [f"p{x}@example.com" for x in all_ids],
        "role": "user", "locale": ["pl" if i % 5 == 0 else "en" for i in range(C)], "consent": True,
        "created_at": datetime(2025, 2, 1)})
    contacts = all_contacts.iloc[:N]
    inv = pd.DataFrame({
        "send_key": [f"k/{x}" for x in ids], "survey_id": [f"S{x}" for x in ids], "run_id": "bench", "cycle": "2026-Q4",
        "program": "relationship", "survey_type": st, "contact_id": contacts["contact_id"],
        "account_id": contacts["account_id"], "locale": contacts["locale"], "status": "sent",
        "claimed_at": datetime(2026, 10, 1, 6), "sent_at": datetime(2026, 10, 1, 6),
        "interval_start": datetime(2026, 10, 1, 6)})
    answered = NOW - timedelta(hours=3)
    raw = pd.DataFrame({
        "response_id": [f"R{x}" for x in ids], "survey_id": inv["survey_id"], "survey_type": st,
        "score": [lo[t] + ((i // 3) * 7 + 3) % span[t] for i, t in enumerate(st)],  # every answer in turn
        "comment": [None if i % 3 else f"comment <{i}> & more" for i in range(N)], "responded_at": answered,
        "locale": None, "file_id": "bench", "source_line": range(N), "loaded_at": answered})
    with wh.begin() as conn:
        for table, df in (("src.accounts", accounts), ("src.contacts", all_contacts), ("ops.survey_invitations", inv),
                          ("ops.raw_responses", raw)):
            wh.load_df(conn, table, df)
        if not wh.is_duckdb:
            conn.exec_driver_sql("ANALYZE")
    wh.dispose()
    print(json.dumps({"answers": N, "contacts": C, "load_s": time.perf_counter() - t}))


def run(url: str, server: str) -> None:
    import jinja2  # noqa: F401 - imports are not what is measured
    import pandas  # noqa: F401

    from nps.config import load_config
    from nps.email.sendgrid import SendGridHook
    from nps.followups.cases import owner_alerts
    from nps.followups.decide import decide
    from nps.followups.send import send_followups
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    os.environ["NPS_FAKE_NOW"] = NOW.isoformat()
    config = load_config()
    wh = Warehouse(url)
    hook = SendGridHook("SG.bench", host=server, timeout=120)
    signer = TokenSigner(SECRET)
    t = time.perf_counter()
    d = decide(wh, config, NOW, "bench1")
    decide_s = time.perf_counter() - t
    t = time.perf_counter()
    s = send_followups(wh, config, signer, hook, now=NOW, run_id="bench1", folder="bench")
    send_s = time.perf_counter() - t
    requests_followups = hook.requests
    t = time.perf_counter()
    a = owner_alerts(wh, config, hook, now=NOW, run_id="bench1", folder="bench")
    alerts_s = time.perf_counter() - t
    t = time.perf_counter()
    d2 = decide(wh, config, NOW + timedelta(hours=1), "bench2")
    s2 = send_followups(wh, config, signer, hook, now=NOW + timedelta(hours=1), run_id="bench2", folder="bench2")
    a2 = owner_alerts(wh, config, hook, now=NOW + timedelta(hours=1), run_id="bench2", folder="bench2")
    rerun_s = time.perf_counter() - t
    status = {r["status"]: int(r["n"]) for r in wh.query(
        "SELECT status, COUNT(*) AS n FROM ops.followup_decisions GROUP BY status")}
    cases = int(wh.scalar("SELECT COUNT(*) FROM ops.followup_cases"))
    wh.dispose()
    print(json.dumps({"considered": d.considered, "decide_s": decide_s, "to_send": s.to_send, "sent": s.ledger.get("sent", 0),
                      "send_s": send_s, "requests": hook.requests, "requests_followups": requests_followups,
                      "alerts": a.emails, "alert_cases": a.cases, "urgent": a.urgent, "alerts_s": alerts_s,
                      "templates": len(s.by_template), "rerun_alerts": a2.emails,
                      "rerun_s": rerun_s, "rerun_considered": d2.considered,
                      "rerun_to_send": s2.to_send, "status": status, "cases": cases, "peak_mb": _peak_mb()}))


def _sub(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"benchmark step {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import sqlalchemy as sa

    from nps.warehouse import normalize_url

    tag = uuid.uuid4().hex[:8]
    duck_path = Path(f"/tmp/nps_bench_followups_{tag}.duckdb")
    targets = [("duckdb", f"duckdb:///{duck_path}")]
    pg_db = f"nps_bench_followups_{tag}"
    admin = None
    if WITH_PG:
        admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{pg_db}"'))
        targets.append(("postgresql", sa.make_url(PG_ADMIN).set(database=pg_db).render_as_string(hide_password=False)))
    try:
        for engine, url in targets:
            server = subprocess.Popen([sys.executable, "-m", "tests.support.sendgrid_server", "0", "SG.bench",
                                       "--validate"],
                                      stdout=subprocess.PIPE, text=True, cwd=ROOT,
                                      env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"})
            try:
                server_url = server.stdout.readline().strip()
                prep = _sub("prepare", url)
                r = _sub("run", url, server_url)
            finally:
                server.terminate()
                server.wait(timeout=10)
            total_s = r["decide_s"] + r["send_s"] + r["alerts_s"]
            print(f"bench followups_{engine}_per_s {prep['answers'] / total_s:.0f} answers/s")
            print(f"bench followups_{engine}_answers {prep['answers']} answers on {prep['contacts']} contacts")
            print(f"bench followups_{engine}_decide_s {r['decide_s']:.2f} s")
            print(f"bench followups_{engine}_decisions_per_s {r['considered'] / r['decide_s']:.0f} /s")
            print(f"bench followups_{engine}_cases {r['cases']} cases")
            print(f"bench followups_{engine}_sent {r['sent']} emails")
            print(f"bench followups_{engine}_send_s {r['send_s']:.2f} s")
            print(f"bench followups_{engine}_sends_per_s {r['sent'] / r['send_s']:.0f} /s")
            print(f"bench followups_{engine}_alerts {r['alerts']} emails ({r['urgent']} urgent cases) for "
                  f"{r['alert_cases']} cases in {r['alerts_s']:.2f} s")
            print(f"bench followups_{engine}_http_requests {r['requests']} requests")
            # Target: ceil(emails / 1000) + one per template/locale group for the follow-ups.
            bound = -(-r["sent"] // 1000) + r["templates"]
            print(f"bench followups_requests {r['requests_followups']} requests for {r['sent']} follow-ups "
                  f"(bound {bound}) + {r['requests'] - r['requests_followups']} for alerts")
            print(f"bench followups_{engine}_rerun_s {r['rerun_s']:.2f} s")
            print(f"bench followups_{engine}_rerun_sent {r['rerun_to_send'] + r['rerun_alerts']} emails")
            print(f"bench followups_{engine}_unsent_after_rerun {r['to_send'] - r['sent']} emails")
            print(f"bench followups_{engine}_peak_memory_mb {r['peak_mb']:.0f} MB")
    finally:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
            admin.dispose()
        import shutil

        for p in (duck_path, Path(str(duck_path) + ".wal")):
            p.unlink(missing_ok=True)
        shutil.rmtree(Path(str(duck_path) + ".locks"), ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    else:
        main()
