"""The demo: the program's real DAGs, run by Airflow over a few simulated weeks (``make demo``).

1. Creates the embedded DuckDB warehouse and loads a generated customer base into ``src``.
2. For each simulated day, runs ``nps_dispatch_surveys`` with Airflow's ``dag.test()`` for that
   day's data interval (invitations land in the local outbox as .eml files); simulated
   respondents answer some of them and write what a survey tool would export, plus SendGrid
   event batches, into the landing folder.
3. Every few days runs ``nps_ingest_responses``, which validates and loads those files, then
   ``nps_close_the_loop`` (after the simulated owners dropped a CRM export of the cases they
   acted on); at the end runs ``nps_build_marts`` and prints the headline figures from the marts.

Airflow's own log goes to ``data/demo/airflow.log``; this prints a line per stage. The demo owns
the files it writes (the default DuckDB warehouse, data/outbox, data/landing) and rebuilds them
on every run, so running it twice gives the same result.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path

from nps import DATA_DIR, PROJECT_ROOT

DEMO_DIR = DATA_DIR / "demo"
OUTBOX_DIR = DATA_DIR / "outbox"
LANDING_DIR = DATA_DIR / "landing"
REPORTS_DIR = DATA_DIR / "reports"
AIRFLOW_LOG = DEMO_DIR / "airflow.log"


def say(msg: str = "") -> None:
    print(msg, flush=True)


@contextlib.contextmanager
def airflow_output_to_log() -> Iterator[None]:
    """Send everything Airflow prints (stdout and stderr, at the fd level) to the demo log."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(AIRFLOW_LOG, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


class DemoError(RuntimeError):
    pass


def record_real_run(dr, started, note: str) -> None:
    """Make a demo run read right in the UI: ``dag.test()`` stamps a run's start with its logical
    date (weeks ago in the simulation) and its end with the wall clock, so the UI showed runs
    lasting months. Store the real start (and queue) time and a note that says what the run was."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalar(select(DagRun).where(DagRun.dag_id == dr.dag_id, DagRun.run_id == dr.run_id))
        if run is None:
            return
        run.start_date = started
        run.queued_at = started
        run.note = note


_TASK_START = re.compile(r"\[DAG TEST\] starting task_id=(\S+) map_index=(-?\d+)")
_TASK_END = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")


_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT[\d:.]+Z) \[(\w+)\s*\] (.*)$")


def _as_log_record(line: str) -> str:
    """One captured console line as the JSON record Airflow's task log files hold, so the UI shows
    its time and level in their columns instead of inside the message."""
    m = _LOG_LINE.match(line.rstrip("\n"))
    record = {"timestamp": m.group(1), "level": m.group(2), "event": m.group(3)} if m else {"event": line.rstrip("\n")}
    return json.dumps(record) + "\n"


def write_task_logs(dr, airflow_log: Path, offset: int) -> None:
    """``dag.test()`` runs tasks in this process, and their log lines land in the demo's Airflow
    log, not in the task log files the UI reads. Copy each task's lines there, so a data engineer
    opening a demo task in ``make ui`` reads its log as for a scheduled run."""
    from airflow.configuration import conf
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.log.file_task_handler import FileTaskHandler
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with open(airflow_log, encoding="utf-8", errors="replace") as f:
        f.seek(offset)
        lines = f.read().splitlines(keepends=True)
    sections: dict[tuple[str, int], list[str]] = {}
    current: tuple[str, int] | None = None
    for line in lines:
        if m := _TASK_START.search(line):
            current = (m.group(1), int(m.group(2)))
            sections[current] = []
        if current is not None:
            sections[current].append(line)
        if _TASK_END.search(line):
            current = None
    handler = FileTaskHandler(base_log_folder=conf.get("logging", "base_log_folder"))
    with create_session() as session:
        tis = session.scalars(
            select(TaskInstance).where(TaskInstance.dag_id == dr.dag_id, TaskInstance.run_id == dr.run_id)
        ).all()
        for ti in tis:
            body = sections.get((ti.task_id, ti.map_index))
            if not body or not ti.try_number:
                continue
            path = Path(handler.local_base) / handler._render_filename(ti, ti.try_number, session=session)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(_as_log_record(line) for line in body), encoding="utf-8")


class Runner:
    def __init__(self, start: date, days: int, accounts: int, ingest_every: int) -> None:
        self.start, self.days, self.accounts, self.ingest_every = start, days, accounts, ingest_every
        self.dags: dict = {}
        self.timings: dict[str, list[float]] = {}
        self.stack = contextlib.ExitStack()  # the survey page the respondents answer through

    # -- set-up ------------------------------------------------------------------------------
    def prepare(self):
        from nps.config import load_config
        from nps.demo.generator import generate, load_base
        from nps.hooks import get_warehouse
        from nps.warehouse import DEFAULT_DUCKDB_PATH, default_url

        os.environ.setdefault("NPS_EMBEDDED", "1")  # the demo is the embedded project: DuckDB file, outbox
        os.environ.setdefault("NPS_OUTBOX_DIR", str(OUTBOX_DIR))
        os.environ.setdefault("NPS_LANDING_URI", str(LANDING_DIR))
        os.environ.setdefault("NPS_REPORTS_URI", str(REPORTS_DIR))
        for d in (Path(os.environ["NPS_OUTBOX_DIR"]), Path(os.environ["NPS_LANDING_URI"]), Path(os.environ["NPS_REPORTS_URI"]), DEMO_DIR):
            shutil.rmtree(d, ignore_errors=True)
            d.mkdir(parents=True, exist_ok=True)
        with airflow_output_to_log():
            wh = get_warehouse()
        if wh.url == default_url():
            for p in (DEFAULT_DUCKDB_PATH, Path(f"{DEFAULT_DUCKDB_PATH}.wal")):
                p.unlink(missing_ok=True)
        elif os.environ.get("NPS_DEMO_RESET_WAREHOUSE") != "yes":
            raise DemoError(
                f"the warehouse is {wh} (from the nps_warehouse connection), not the embedded demo file; the demo "
                "replaces its src tables and adds demo surveys. Set NPS_DEMO_RESET_WAREHOUSE=yes on an empty "
                "warehouse to go ahead."
            )
        self.config = load_config()
        self.wh = wh
        with airflow_output_to_log():
            applied = wh.migrate()
        say(f"warehouse   {wh}  (schema version {wh.schema_version()}; applied {len(applied)} migrations)")
        end = self.start + timedelta(days=self.days + 3)
        base = generate(self.config, n_accounts=self.accounts, start=self.start, end=end)
        counts = load_base(wh, base)
        churned = int((base.contracts["ended_reason"] == "churned").sum())
        say(
            f"source data {counts['src.accounts']} accounts in {base.accounts['industry'].nunique()} industries, "
            f"{counts['src.contacts']} contacts ({(base.contacts['locale'] == 'pl').sum()} Polish-speaking), "
            f"{counts['src.touchpoint_events']} touchpoint events, {counts['src.contracts']} contracts "
            f"({churned} churned)"
        )

    def load_dags(self) -> None:
        with airflow_output_to_log():
            from airflow.dag_processing.dagbag import DagBag

            bag = DagBag(dag_folder=str(PROJECT_ROOT / "dags"))
        if bag.import_errors:
            raise DemoError(f"DAG import errors: {bag.import_errors}")
        self.dags = bag.dags
        # dag.test() honours retry delays in real time; the demo fails fast and says where to look.
        for dag in self.dags.values():
            for t in dag.tasks:
                t.retries = 0
        say(f"airflow     {len(self.dags)} DAGs loaded: {', '.join(sorted(self.dags))}")

    # -- one DAG run -------------------------------------------------------------------------
    def run_dag(self, dag_id: str, logical: datetime, now: datetime) -> bool:
        """Run one DAG with dag.test() as if it were ``now``; False when the DAG does not exist."""
        import pendulum

        dag = self.dags.get(dag_id)
        if dag is None:
            return False
        os.environ["NPS_FAKE_NOW"] = now.isoformat()
        t0 = time.monotonic()
        started = pendulum.now("UTC")
        log_offset = AIRFLOW_LOG.stat().st_size
        with airflow_output_to_log():
            # run_after is the simulated moment the run was due, so the UI orders and names the
            # runs along the simulated weeks; record_real_run keeps the real start and end.
            dr = dag.test(logical_date=pendulum.instance(logical, tz="UTC"), run_after=pendulum.instance(now, tz="UTC"))
            record_real_run(dr, started, f"make demo: simulated {now:%a %Y-%m-%d %H:%M} UTC (pipeline clock pinned)")
            write_task_logs(dr, AIRFLOW_LOG, log_offset)
        self.timings.setdefault(dag_id, []).append(time.monotonic() - t0)
        state = str(getattr(dr, "state", "")).lower()
        if "success" not in state:
            raise DemoError(
                f"{dag_id} for {logical:%Y-%m-%d %H:%M} ended {state or 'without a state'}; see {AIRFLOW_LOG}"
            )
        return True

    def count(self, sql: str, default: int = 0) -> int:
        try:
            return int(self.wh.scalar(sql) or 0)
        except Exception:  # noqa: BLE001 - a stage whose tables do not exist yet counts as zero
            return default

    # -- the simulated weeks -----------------------------------------------------------------
    def simulate(self) -> None:
        from nps.hooks import token_secret

        try:
            from nps.demo.respondents import simulate_day
        except ImportError:
            simulate_day = None
        with airflow_output_to_log():
            secret = token_secret()
        from nps.demo.web import survey_page

        web = self.stack.enter_context(survey_page(DEMO_DIR, os.environ["NPS_LANDING_URI"], secret, os.environ["NPS_OUTBOX_DIR"]))
        say("survey page the invitations link to the response page (python -m nps.web on a loopback port); "
            "respondents answer there over HTTP")
        say(f"simulating  {self.days} days from {self.start:%Y-%m-%d}: dispatch daily, ingest every {self.ingest_every} days")
        for i in range(self.days):
            day = self.start + timedelta(days=i)
            morning = datetime(day.year, day.month, day.day, 6, 0)
            before = self.count("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'")
            ran = self.run_dag("nps_dispatch_surveys", morning, morning + timedelta(minutes=5))
            sent = self.count("SELECT COUNT(*) FROM ops.survey_invitations WHERE status = 'sent'") - before
            line = f"  {day:%a %Y-%m-%d}  dispatch: {sent:4d} invitations sent" if ran else f"  {day:%Y-%m-%d}"
            if simulate_day is not None:
                got = simulate_day(self.wh, os.environ["NPS_LANDING_URI"], day, secret, web=web)
                line += f" | respondents: {got.get('responses', 0):3d} answers, {got.get('events', 0):4d} email events"
            if (i + 1) % self.ingest_every == 0 or i == self.days - 1:
                evening = datetime(day.year, day.month, day.day, 23, 0)
                loaded_before = self.count("SELECT COUNT(*) FROM ops.raw_responses")
                if self.run_dag("nps_ingest_responses", evening, evening + timedelta(minutes=5)):
                    loaded = self.count("SELECT COUNT(*) FROM ops.raw_responses") - loaded_before
                    line += f" | ingest: {loaded} responses loaded"
                # The next morning (09:10 in Warsaw, after the digest hour), before that day's dispatch.
                line += self.close_the_loop(datetime(day.year, day.month, day.day, 7, 10) + timedelta(days=1))
            say(line)
        end = self.start + timedelta(days=self.days)
        final = datetime(end.year, end.month, end.day, 5, 30)
        if self.run_dag("nps_build_marts", final, final + timedelta(minutes=5)):
            say(f"marts       rebuilt by nps_build_marts for {final:%Y-%m-%d %H:%M}")
            from nps.demo.reports import run_reports

            run_reports(self, self.start, end, say)

    def close_the_loop(self, when: datetime) -> str:
        """Owners act on their cases (a CRM export in cases/), then nps_close_the_loop runs."""
        from nps.demo.loop import owners_act

        if "nps_close_the_loop" not in self.dags:
            return ""
        had_cases = self.count("SELECT COUNT(*) FROM ops.followup_cases")
        if had_cases:
            owners_act(self.wh, os.environ["NPS_LANDING_URI"], when - timedelta(minutes=5),
                       first=not self.count("SELECT COUNT(*) FROM ops.ingest_files WHERE kind = 'cases'"))
        before = self.count("SELECT COUNT(*) FROM ops.message_ledger WHERE status = 'sent' AND kind = 'followup'")
        self.run_dag("nps_close_the_loop", when, when)
        sent = self.count("SELECT COUNT(*) FROM ops.message_ledger WHERE status = 'sent' AND kind = 'followup'") - before
        opened = self.count("SELECT COUNT(*) FROM ops.followup_cases") - had_cases
        return f" | loop: {sent} follow-ups, {opened} cases"

    # -- what happened -----------------------------------------------------------------------
    def summary(self) -> None:
        from nps.demo import summary

        say("")
        summary.print_summary(self.wh, self.config, say)
        from nps.demo.loop import summarise as loop_summary

        loop_summary(self.wh, os.environ["NPS_OUTBOX_DIR"], say)
        from nps.demo.reports import summarise

        summarise(say)
        say("")
        say("where to look")
        say(f"  warehouse      {self.wh.url.removeprefix('duckdb:///')}  (schemas src, ops, marts)")
        say(f"  email outbox   {os.environ['NPS_OUTBOX_DIR']}  (.eml files, one folder per run)")
        say(f"  landing area   {os.environ['NPS_LANDING_URI']}  (archive/, rejected/)")
        say(f"  KPI reports    {os.environ['NPS_REPORTS_URI']}/index.html  (every report: HTML, charts, scorecard CSV)")
        say(f"  airflow log    {AIRFLOW_LOG}")
        say(f"  survey page    {DEMO_DIR / 'survey-web.log'}; `make survey-web` serves the outbox's links again")
        runs = sum(len(v) for v in self.timings.values())
        say(f"  airflow runs   {runs} DAG runs recorded in .airflow/airflow.db; browse them with `make ui`")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--start", type=date.fromisoformat, default=date(2026, 9, 1), help="first simulated day")
    ap.add_argument("--days", type=int, default=30, help="number of simulated days (30: a whole month for the monthly report)")
    ap.add_argument("--accounts", type=int, default=400, help="number of customer accounts")
    ap.add_argument("--ingest-every", type=int, default=3, help="run the ingestion DAG every N days")
    args = ap.parse_args(argv)
    t0 = time.monotonic()
    DEMO_DIR.mkdir(parents=True, exist_ok=True)
    AIRFLOW_LOG.write_text("", encoding="utf-8")
    runner = Runner(args.start, args.days, args.accounts, args.ingest_every)
    try:
        say("== nps demo: the feedback program on Airflow, embedded warehouse, local outbox")
        runner.prepare()
        runner.load_dags()
        runner.simulate()
        runner.summary()
    except DemoError as err:
        say(f"demo failed: {err}")
        return 1
    finally:
        runner.stack.close()
        os.environ.pop("NPS_FAKE_NOW", None)
    say(f"== demo finished in {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    # DuckDB's bindings report harmless "leaked instance" noise when the interpreter tears down
    # with Airflow's objects still holding references; the demo's work is committed by now.
    os._exit(code)
