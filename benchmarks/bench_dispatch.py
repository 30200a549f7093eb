"""Benchmark: select and dispatch ~100,000 invitations from a 1,000,000-contact base.

Run from the repository root: ``.venv/bin/python benchmarks/bench_dispatch.py``.

1. ``prepare`` (a subprocess): generate the base with nps.demo.generator and load it into a
   scratch DuckDB file under /tmp and a scratch PostgreSQL database.
2. ``run`` (a fresh subprocess per engine, so peak memory is that scenario's alone): select the
   previous interval's cohort (the first selection on the warehouse), then, timed, the
   interval's cohort as a daily run does (``cohort_<engine>_s``) and again as a rerun of a cleared
   task does (``cohort_<engine>_reselect_s``: it first deletes the stored selection), and dispatch it, with rendering, tokens and ledger writes, to a local
   SendGrid-compatible HTTP server (``tests.support.sendgrid_server``, its own process; API key checked, bodies not parsed).
3. ``single`` (a subprocess): send a sample of invitations one request per email, the way
   Airflow's SendGrid email backend does (render and POST each message), and extrapolate the
   time for the same number of invitations.

Prints ``bench <metric> <value> <unit>`` lines. Env: NPS_BENCH_CONTACTS (1000000),
NPS_BENCH_DAYS (interval length in days, 2: ~95,000 invitations), NPS_BENCH_SINGLE_SAMPLE (2000), NPS_TEST_PG_URL.
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
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))

PG_ADMIN = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
N_CONTACTS = int(os.environ.get("NPS_BENCH_CONTACTS", "1000000"))
DAYS = int(os.environ.get("NPS_BENCH_DAYS", "2"))
SINGLE_SAMPLE = int(os.environ.get("NPS_BENCH_SINGLE_SAMPLE", "2000"))
INTERVAL_START = datetime(2026, 10, 5, 6)
SECRET = "bench-secret-not-for-production-0123456789"


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def prepare(duck_url: str, pg_url: str) -> None:
    from nps.config import load_config
    from nps.demo.generator import generate, load_base
    from nps.warehouse import Warehouse

    t = time.perf_counter()
    base = generate(load_config(), n_contacts=N_CONTACTS)
    gen_s = time.perf_counter() - t
    for url in (duck_url, pg_url):
        wh = Warehouse(url)
        wh.migrate()
        load_base(wh, base)
        if wh.dialect == "postgresql":
            with wh.engine.connect() as conn:  # fresh COPY'd tables have no statistics yet
                conn.exec_driver_sql("ANALYZE")
                conn.commit()
        wh.dispose()
    print(json.dumps({"contacts": len(base.contacts), "events": len(base.touchpoint_events), "generate_s": gen_s,
                      "load_s": time.perf_counter() - t - gen_s}))


def run(url: str, server: str) -> None:
    import jinja2  # noqa: F401 - imports are not what is measured (no .pyc here: they are slow)
    import pandas  # noqa: F401

    from nps.cohorts import select_cohort
    from nps.config import load_config
    from nps.dispatch import dispatch_invitations
    from nps.email.sendgrid import SendGridHook
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    config = load_config()
    wh = Warehouse(url)
    wh.check()
    hook = SendGridHook("SG.bench", host=server, timeout=60)
    end = INTERVAL_START + timedelta(days=DAYS)
    # The first selection on a fresh warehouse: the previous interval (DuckDB also hashes every
    # contact's slot once here, PostgreSQL keeps slots current through triggers).
    t = time.perf_counter()
    select_cohort(wh, config, INTERVAL_START - timedelta(days=DAYS), INTERVAL_START, "bench-previous")
    first_s = time.perf_counter() - t
    # The daily case, timed: the next interval, selected for the first time.
    t = time.perf_counter()
    cohort = select_cohort(wh, config, INTERVAL_START, end, "bench")
    select_s = time.perf_counter() - t
    # A rerun of the same interval (a cleared task): it also deletes the stored selection first.
    t = time.perf_counter()
    again = select_cohort(wh, config, INTERVAL_START, end, "bench", reselect=True)
    reselect_s = time.perf_counter() - t
    assert (again.due, again.selected) == (cohort.due, cohort.selected), "a reselection chose another cohort"
    t1 = time.perf_counter()
    res = dispatch_invitations(wh, config, TokenSigner(SECRET), hook, INTERVAL_START, "bench")
    t2 = time.perf_counter()
    sent = int(wh.scalar("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'"))
    wh.dispose()
    print(json.dumps({"due": cohort.due, "selected": cohort.selected, "sent": res.sent, "ledger_sent": sent,
                      "select_s": select_s, "select_first_run_s": first_s, "reselect_s": reselect_s, "dispatch_s": t2 - t1,
                      "requests": hook.requests, "retries": hook.retries,
                      "peak_mb": _peak_mb()}))


def request_floor(url: str) -> int:
    """The fewest requests the sent invitations allow: a request carries one template (survey
    type, locale) and at most ``dispatch.batch_size`` recipients, so sum(ceil(n / batch_size))."""
    from nps.config import load_config
    from nps.warehouse import Warehouse

    size = load_config().dispatch.batch_size
    wh = Warehouse(url)
    try:
        rows = wh.query("SELECT survey_type, locale, COUNT(*) AS n FROM ops.survey_invitations "
                        "WHERE status = 'sent' GROUP BY survey_type, locale")
    finally:
        wh.dispose()
    return sum(-(-int(r["n"]) // size) for r in rows)


def single(url: str, server: str) -> None:
    """One request per email, like Airflow's SendGrid backend: render and POST every message."""
    from sendgrid import SendGridAPIClient
    from sendgrid.helpers.mail import Content, Mail

    from nps.config import load_config
    from nps.email.render import merge, render_template, substitutions
    from nps.tokens import TokenSigner
    from nps.warehouse import Warehouse

    config = load_config()
    wh = Warehouse(url)
    rows = wh.query(
        "SELECT i.survey_id, i.survey_type, i.locale, c.email, c.first_name, a.name AS company "
        "FROM ops.survey_invitations i JOIN src.contacts c ON c.contact_id = i.contact_id "
        "JOIN src.accounts a ON a.account_id = i.account_id ORDER BY i.send_key LIMIT :n", {"n": SINGLE_SAMPLE})
    wh.dispose()
    signer = TokenSigner(SECRET)
    client = SendGridAPIClient("SG.bench", host=server)
    templates = {}
    t = time.perf_counter()
    for r in rows:
        key = (r["survey_type"], r["locale"])
        if key not in templates:
            templates[key] = render_template(config, *key)
        tmpl = templates[key]
        subs = substitutions(signer, r["survey_id"], r["survey_type"], r["first_name"], r["company"])
        mail = Mail(from_email=config.sender.email, to_emails=r["email"], subject=merge(tmpl.subject, subs))
        mail.add_content(Content("text/plain", merge(tmpl.text, subs)))
        mail.add_content(Content("text/html", merge(tmpl.html, subs)))
        client.client.mail.send.post(request_body=mail.get(), timeout=60)
    print(json.dumps({"n": len(rows), "seconds": time.perf_counter() - t}))


def _sub(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, cwd=ROOT)
    if out.returncode != 0:
        raise SystemExit(f"benchmark step {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import sqlalchemy as sa

    from nps.warehouse import normalize_url

    tag = uuid.uuid4().hex[:8]
    duck_path = Path(f"/tmp/nps_bench_dispatch_{tag}.duckdb")
    pg_db = f"nps_bench_dispatch_{tag}"
    admin = sa.create_engine(normalize_url(PG_ADMIN), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{pg_db}"'))
    pg_url = sa.make_url(PG_ADMIN).set(database=pg_db).render_as_string(hide_password=False)
    duck_url = f"duckdb:///{duck_path}"
    server = subprocess.Popen([sys.executable, "-m", "tests.support.sendgrid_server", "0", "SG.bench"], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'plugins'}"})
    try:
        server_url = server.stdout.readline().strip()
        prep = _sub("prepare", duck_url, pg_url)
        print(f"bench dispatch_base_contacts {prep['contacts']} contacts")
        print(f"bench dispatch_base_generate_and_load_s {prep['generate_s'] + prep['load_s']:.1f} s")
        results = {}
        for engine, url in (("duckdb", duck_url), ("postgresql", pg_url)):
            r = _sub("run", url, server_url)
            results[engine] = r
            total = r["select_s"] + r["dispatch_s"]
            print(f"bench dispatch_{engine}_invitations {r['sent']} invitations")
            print(f"bench dispatch_{engine}_invitations_per_s {r['sent'] / total:.0f} /s")
            print(f"bench dispatch_{engine}_select_s {r['select_s']:.2f} s")
            print(f"bench cohort_{engine}_s {r['select_s']:.2f} s")
            print(f"bench cohort_{engine}_first_run_s {r['select_first_run_s']:.2f} s")
            print(f"bench cohort_{engine}_reselect_s {r['reselect_s']:.2f} s")
            print(f"bench dispatch_{engine}_send_s {r['dispatch_s']:.2f} s")
            print(f"bench dispatch_{engine}_http_requests {r['requests']} requests")
            floor = request_floor(url)
            print(f"bench dispatch_{engine}_http_requests_floor {floor} requests")
            # The target: no request more than one template/locale group at 1,000 recipients needs.
            print(f"bench dispatch_{engine}_http_requests_over_floor {r['requests'] - floor} requests")
            print(f"bench dispatch_{engine}_http_retries {r['retries']} requests")
            print(f"bench dispatch_{engine}_peak_memory_mb {r['peak_mb']:.0f} MB")
        rate = {e: r["sent"] / (r["select_s"] + r["dispatch_s"]) for e, r in results.items()}
        print(f"bench dispatch_postgresql_vs_duckdb_ratio {rate['postgresql'] / rate['duckdb']:.2f} x")
        s = _sub("single", duck_url, server_url)
        per_email = s["seconds"] / s["n"]
        d = results["duckdb"]
        n = d["sent"]
        single_total = per_email * n
        print(f"bench dispatch_single_email_sample {s['n']} emails")
        print(f"bench dispatch_single_email_per_s {1 / per_email:.0f} /s")
        print(f"bench dispatch_single_email_extrapolated_requests {n} requests")
        print(f"bench dispatch_single_email_extrapolated_send_s {single_total:.1f} s")
        print(f"bench dispatch_batched_vs_single_requests_ratio_extrapolated {n / max(1, d['requests']):.0f} x")
        print(f"bench dispatch_batched_vs_single_speedup_extrapolated {single_total / d['dispatch_s']:.1f} x")
    finally:
        server.terminate()
        server.wait(timeout=10)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{pg_db}" WITH (FORCE)'))
        admin.dispose()
        for p in (duck_path, Path(str(duck_path) + ".wal")):
            p.unlink(missing_ok=True)
        shutil.rmtree(f"{duck_path}.locks", ignore_errors=True)  # the ledger's per-file lock folder


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) > 1 and sys.argv[1] == "single":
        single(sys.argv[2], sys.argv[3])
    else:
        main()
