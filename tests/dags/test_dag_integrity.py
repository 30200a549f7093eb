"""Every DAG file loads, follows the house conventions and imports nothing heavy at parse time."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DAG_FILES = sorted(p for p in (ROOT / "dags").glob("*.py") if not p.name.startswith("_"))
HEAVY = ["pandas", "great_expectations", "sendgrid", "duckdb", "duckdb_engine", "psycopg", "jinja2", "numpy", "pyarrow"]


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {d.fileloc for d in dagbag.dags.values()} == {str(p) for p in DAG_FILES}


def _dags_of(dagbag, path):
    """The file's DAG, or its DAGs named <stem>_<variant> (nps_kpi_reports: one per cadence)."""
    return [d for d in dagbag.dags.values() if d.dag_id == path.stem or d.dag_id.startswith(path.stem + "_")]


@pytest.mark.parametrize("path", DAG_FILES, ids=lambda p: p.stem)
def test_conventions(dagbag, path):
    dags = _dags_of(dagbag, path)
    assert dags, f"{path.name} must define a DAG with dag_id {path.stem!r} (or {path.stem}_<variant>)"
    for dag in dags:
        _check_conventions(dag, path)


def _check_conventions(dag, path):
    assert dag.fileloc == str(path)
    assert dag.doc_md and dag.doc_md.strip().startswith("###"), "doc_md=__doc__ with a Markdown heading"
    assert dag.tags and "nps" in dag.tags
    assert str(dag.start_date.tzinfo) in ("UTC", "Timezone('UTC')", "+00:00")
    assert dag.max_active_runs == 1
    assert type(dag.timetable).__name__ not in ("NullTimetable", "OnceTimetable"), "an explicit schedule"
    assert dag.tasks[0].task_id == "migrate_warehouse" or any(t.task_id == "migrate_warehouse" for t in dag.roots)
    for t in dag.tasks:
        assert t.owner not in ("", "airflow"), f"{t.task_id}: set an owner"
        assert t.retries >= 2, f"{t.task_id}: retries >= 2"
        assert t.retry_delay >= timedelta(minutes=1), f"{t.task_id}: retry_delay"


def test_no_heavy_imports_at_parse_time():
    code = f"""
import json, sys
from airflow.dag_processing.dagbag import DagBag
before = set(sys.modules)
bag = DagBag(dag_folder={str(ROOT / 'dags')!r})
new = set(sys.modules) - before
print(json.dumps({{"errors": {{str(k): str(v) for k, v in bag.import_errors.items()}},
                  "heavy": sorted(m for m in new if m.split('.')[0] in {HEAVY!r})}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert result["heavy"] == [], "import these inside task callables, not at DAG parse time"


def test_ruff_airflow3_rules_clean():
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "AIR3", "dags", "plugins"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout + out.stderr
