"""The installable package: a wheel built from the repository carries the SQL, templates and
config it needs and works away from the repository's layout."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")


@pytest.mark.skipif(not UV.exists(), reason="uv is installed in the project's venv by make")
@pytest.mark.timeout(300)
def test_wheel_works_without_the_repository(tmp_path):
    subprocess.run([str(UV), "build", "--wheel", "-q", "-o", str(tmp_path / "dist"), str(ROOT)], check=True, cwd=ROOT)
    wheel = next((tmp_path / "dist").glob("nps_program-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = z.read(next(n for n in names if n.endswith(".dist-info/entry_points.txt"))).decode()
        z.extractall(tmp_path / "site")
    assert {"nps/_include/config/program.yaml", "nps/_include/sql/migrations/001_foundation.sql",
            "nps/_include/sql/marts/mart_nps.sql", "nps/_include/templates/email/nps.pl.html.j2",
            "nps/provider.py", "nps/operators/dispatch.py"} <= names
    assert "[apache_airflow_provider]\nprovider_info = nps.provider:get_provider_info" in entry_points
    assert not [n for n in names if n.startswith("nps/demo/")]  # the demo stays out of the production package

    code = """
import nps
from nps.config import load_config
from nps.email.render import render_template
from nps.warehouse import Warehouse
config = load_config()
wh = Warehouse("duckdb:///" + nps.DATA_DIR.as_posix() + "/w.duckdb")
print(nps.INCLUDE_DIR.relative_to(nps.__path__[0]).as_posix(), len(wh.migrate()), render_template(config, "nps", "pl").subject)
wh.dispose()
"""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NPS_INCLUDE_DIR", "NPS_PROGRAM_CONFIG")}
    env.update(PYTHONPATH=str(tmp_path / "site"), NPS_DATA_DIR=str(tmp_path / "data"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tmp_path, check=True)
    migrations = len(list((ROOT / "include" / "sql" / "migrations").glob("[0-9][0-9][0-9]_*.sql")))
    assert out.stdout.strip() == f"_include {migrations} Czy polecisz Acme Customer Success?"
