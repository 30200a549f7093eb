"""The program on Airflow's CeleryExecutor for the tests, started the way an engineer starts it:
``scripts/celery.sh up`` (what ``make celery-up`` runs), with its own metadata and warehouse
databases on the local PostgreSQL, its own Redis database number and queue, free loopback ports,
and stopped by ``scripts/celery.sh down``. ``stop()`` then reports every process of the stack still
alive (it must be none) and drops the databases it created.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PG_ADMIN_URL = os.environ.get("NPS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("NPS_TEST_CELERY_REDIS", "redis://127.0.0.1:6379/14")  # dedicated to this test


class CeleryStack:
    def __init__(self, home: Path, extra_env: dict[str, str] | None = None) -> None:
        tag = uuid.uuid4().hex[:8]
        self.home = home
        self.metadata_db = f"nps_celery_test_{tag}_meta"
        self.warehouse_db = f"nps_celery_test_{tag}_wh"
        self.queue = f"nps-test-{tag}"
        self.extra_env = extra_env or {}
        pg = PG_ADMIN_URL.rsplit("/", 1)[0]
        self.warehouse_url = f"{pg}/{self.warehouse_db}"
        self.url = ""
        self.pids: dict[str, int] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV", "NPS_"))}
        env.update({
            "PATH": "/usr/local/bin:/usr/bin:/bin",  # the script finds the venv by itself
            "NPS_VENV": sys.prefix,
            "NPS_CELERY_HOME": str(self.home),
            "NPS_CELERY_PG": PG_ADMIN_URL.rsplit("/", 1)[0],
            "NPS_CELERY_METADATA_DB": self.metadata_db,
            "NPS_CELERY_WAREHOUSE_DB": self.warehouse_db,
            "NPS_CELERY_REDIS": REDIS_URL,
            "NPS_CELERY_QUEUE": self.queue,
            # Runs only when the test triggers them: no timetable runs racing the assertions.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
        })
        env.update(self.extra_env)
        return env

    def _script(self, cmd: str, timeout: float) -> str:
        out = subprocess.run(["bash", str(ROOT / "scripts" / "celery.sh"), cmd], cwd=ROOT, env=self.env(),
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"celery.sh {cmd} exited {out.returncode}:\n{out.stdout}\n{out.stderr}\n{self.tail()}")
        return out.stdout

    def start(self, timeout: float = 420) -> None:
        self.create_warehouse()
        self._script("up", timeout)
        secrets = dict(line.split("=", 1) for line in (self.home / "secrets.env").read_text().split())
        self.url = f"http://127.0.0.1:{secrets['NPS_CELERY_API_PORT']}"
        self.token_secret = secrets["NPS_CELERY_TOKEN_SECRET"]
        self.pids = {p.stem: int(p.read_text()) for p in (self.home / "run").glob("*.pid") if not p.name.endswith(".celery.pid")}

    def stop(self) -> list[str]:
        """``celery.sh down``; the command lines of the stack's processes still alive afterwards."""
        try:
            self._script("down", 120)
        finally:
            left = [cmd for sid in self.pids.values() for cmd in session_processes(sid).values()]
            self.drop_databases()
        return left

    # -- databases -------------------------------------------------------------------------------
    def _admin(self):
        import sqlalchemy as sa

        from nps.warehouse import normalize_url

        return sa.create_engine(normalize_url(PG_ADMIN_URL), isolation_level="AUTOCOMMIT")

    def create_warehouse(self) -> None:
        import sqlalchemy as sa

        admin = self._admin()
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{self.warehouse_db}"'))
        admin.dispose()

    def drop_databases(self) -> None:
        import sqlalchemy as sa

        admin = self._admin()
        with admin.connect() as conn:
            for db in (self.metadata_db, self.warehouse_db):  # the two this stack created, no other
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))
        admin.dispose()

    # -- REST ------------------------------------------------------------------------------------
    def token(self) -> str:
        password = json.loads((self.home / "simple_auth_manager_passwords.json.generated").read_text())["admin"]
        req = urllib.request.Request(f"{self.url}/auth/token", data=json.dumps({"username": "admin", "password": password}).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())["access_token"]

    def client(self):
        import airflow_client.client as ac

        return ac.ApiClient(ac.Configuration(host=self.url, access_token=self.token()))

    def tail(self, lines: int = 40) -> str:
        out = []
        for log in sorted((self.home / "logs").glob("*.log")):
            text = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name}\n" + "\n".join(text))
        return "\n".join(out)


def session_processes(sid: int) -> dict[int, str]:
    """The live (not zombie) processes of a session, by pid, with their command lines."""
    alive = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if fields[0] != "Z" and int(fields[3]) == sid:
                alive[int(stat.parent.name)] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except (OSError, IndexError, ValueError):
            continue
    return alive
