"""Test fixtures: a fresh warehouse per test on DuckDB (a file) and on PostgreSQL (a database).

PostgreSQL is the server at ``NPS_TEST_PG_URL`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
Each test run creates a migrated template database, clones it for every test that asks for a
PostgreSQL warehouse, and drops them all at the end. When the server is unreachable the tests
that need it are skipped locally and fail when ``CI`` is set true (``1``, ``true``, ``yes``).
"""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
# Once per process: a test that imports this module again (``from tests.conftest import ...``) must
# not move AIRFLOW_HOME away from the database Airflow in this process already uses.
_RUN = os.environ.setdefault(f"NPS_TEST_RUN_{_WORKER}", f"{uuid.uuid4().hex[:8]}_{_WORKER}")
# One Airflow home (SQLite metadata) per pytest process, so parallel runs never share a database.
_AIRFLOW_HOME = Path(os.environ.get("NPS_TEST_TMP", "/tmp")) / f"nps-test-airflow-{_RUN}"

# Airflow reads these at import time: set them before any test imports airflow.
os.environ["AIRFLOW_HOME"] = str(_AIRFLOW_HOME)
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("NPS_TOKEN_SECRET", "test-secret-not-for-production-0123456789")
# The tests run the embedded project (local DuckDB files, the outbox) on purpose; tests of the
# fail-closed behaviour remove this (tests/hooks/test_fail_closed.py).
os.environ.setdefault("NPS_EMBEDDED", "1")
sys.path.insert(0, str(ROOT / "plugins"))

PG_ADMIN_URL = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def in_ci() -> bool:
    """``CI`` as CI services set it: 1, true or yes (any case) mean a CI run."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def _pg_admin():
    import sqlalchemy as sa

    from nps.warehouse import normalize_url

    return sa.create_engine(normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})


@pytest.fixture(scope="session")
def pg_template():
    """A migrated template database for this run; every PostgreSQL test clones it."""
    import sqlalchemy as sa

    from nps.warehouse import Warehouse

    try:
        admin = _pg_admin()
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as err:  # noqa: BLE001
        msg = f"PostgreSQL at {PG_ADMIN_URL} is unreachable: {str(err).splitlines()[0]}"
        if in_ci():
            pytest.fail(msg + f" (CI={os.environ.get('CI')}: PostgreSQL tests must run)")
        pytest.skip(msg)
    name = f"nps_test_{_RUN}_tpl"
    created: list[str] = [name]
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    base = sa.make_url(PG_ADMIN_URL)
    wh = Warehouse(base.set(database=name).render_as_string(hide_password=False))
    wh.migrate()
    wh.dispose()

    def clone() -> str:
        db = f"nps_test_{_RUN}_{len(created)}"
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{db}" TEMPLATE "{name}"'))
        created.append(db)
        return base.set(database=db).render_as_string(hide_password=False)

    yield clone
    with admin.connect() as conn:
        for db in reversed(created):
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def duckdb_url(tmp_path) -> str:
    return f"duckdb:///{tmp_path / 'warehouse.duckdb'}"


@pytest.fixture
def pg_url(pg_template) -> str:
    """A fresh, migrated PostgreSQL database for one test."""
    return pg_template()


@pytest.fixture(scope="session")
def duckdb_template(tmp_path_factory) -> Path:
    """A migrated DuckDB warehouse file for this worker; every DuckDB test copies it (a copy takes
    milliseconds, migrating from nothing ~1 s), as every PostgreSQL test clones ``pg_template``."""
    from nps.warehouse import Warehouse

    path = tmp_path_factory.mktemp("duckdb-template") / "warehouse.duckdb"
    wh = Warehouse(f"duckdb:///{path}")
    wh.migrate()
    wh.dispose()  # closes the file (checkpointed), so a byte copy is a whole warehouse
    return path


@pytest.fixture(params=["duckdb", "postgresql"])
def warehouse(request, tmp_path):
    """A fresh, migrated warehouse; every test using it runs on DuckDB and on PostgreSQL."""
    from nps.warehouse import Warehouse

    if request.param == "duckdb":
        target = tmp_path / "warehouse.duckdb"
        shutil.copyfile(request.getfixturevalue("duckdb_template"), target)
        wh = Warehouse(f"duckdb:///{target}")
    else:
        wh = Warehouse(request.getfixturevalue("pg_template")())
    yield wh
    wh.dispose()


@pytest.fixture(scope="session")
def program_config():
    from nps.config import load_config

    return load_config(ROOT / "include" / "config" / "program.yaml")


def _migrated(db: Path) -> bool:
    import contextlib
    import sqlite3

    if not db.exists():
        return False
    with contextlib.closing(sqlite3.connect(db)) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return {"alembic_version", "dag_run", "task_instance", "connection"} <= names


@pytest.fixture(scope="session")
def _airflow_home():
    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def airflow_db(_airflow_home):
    """An initialised Airflow metadata database (SQLite) for DagBag and dag.test().

    Checked for every test module that asks for it, not once per session: a connection lookup outside
    a task (nps.hooks) opens the metadata database, which creates an empty SQLite file when a test
    got there before any migration. After a migration this process's Airflow ORM is set up anew,
    so no connection to the file as it was before stays in use."""
    import subprocess

    db = _airflow_home / "airflow.db"
    if not _migrated(db):
        for leftover in (db, db.with_name("airflow.db-wal"), db.with_name("airflow.db-shm")):
            leftover.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True, env=os.environ.copy())
        from airflow import settings

        if settings.engine is not None:
            settings.dispose_orm(do_log=False)
            settings.configure_orm()
    yield _airflow_home


def pytest_collection_modifyitems(config, items):
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        if names & {"warehouse", "pg_url", "duckdb_url", "pg_template", "airflow_db", "airflow_ui", "celery_stack"}:
            item.add_marker(pytest.mark.integration)
        else:
            item.add_marker(pytest.mark.unit)
