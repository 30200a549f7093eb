"""The demo runner end to end: real DAG runs with dag.test() over a few simulated days."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_the_dags_and_summarises(airflow_db, tmp_path):
    env = os.environ.copy()
    env.update(NPS_DATA_DIR=str(tmp_path / "data"), PYTHONPATH=str(ROOT / "plugins"))
    for key in ("AIRFLOW_CONN_NPS_WAREHOUSE", "NPS_OUTBOX_DIR", "NPS_LANDING_URI", "NPS_FAKE_NOW"):
        env.pop(key, None)
    cmd = [sys.executable, "-m", "nps.demo.run", "--days", "4", "--accounts", "80", "--ingest-every", "2"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    ok = ("source data 80 accounts in 6 industries" in text and "DAGs loaded" in text
          and text.count("dispatch:") == 4 and "what happened" in text and "demo finished" in text)
    assert ok, text[-4000:] + out.stderr[-2000:]
    assert (tmp_path / "data" / "warehouse.duckdb").exists()
    assert "nanobind" not in out.stderr, out.stderr[-2000:]
    # Running it again gives the same story (it rebuilds its own files).
    again = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]

    def strip(s: str) -> list[str]:
        return [ln for ln in s.splitlines() if "finished in" not in ln]

    assert strip(again.stdout) == strip(text)
