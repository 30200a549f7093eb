"""A running Airflow for the UI tests, started the way a data engineer starts it: ``scripts/airflow-ui.sh``
(what ``make ui`` runs: ``airflow standalone`` with the api-server, scheduler, dag-processor and
triggerer as separate processes), with nothing on ``PATH`` but the system's directories.

Everything lives in a temporary Airflow home; the API server listens on a free loopback port.
``stop()`` sends SIGINT to the whole process group, as Ctrl-C in a terminal does, and reports any
process that outlived it.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The program's DAG ids: one per file, except the KPI reports (one DAG per cadence in one file).
PROGRAM_DAGS = sorted(
    [p.stem for p in (ROOT / "dags").glob("nps_*.py") if p.stem != "nps_kpi_reports"]
    + [f"nps_kpi_reports_{kind}" for kind in ("weekly", "monthly", "quarterly")]
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _signals_as_in_a_terminal() -> None:
    """SIGINT and SIGQUIT at their defaults, as in a shell at a terminal. A test run started in the
    background of a non-interactive shell (``make test &``) inherits them ignored, and an ignored
    SIGINT can be neither trapped by the script nor turned into KeyboardInterrupt by Airflow: Ctrl-C
    would then stop nothing, which is not what a data engineer at a terminal sees."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGQUIT, signal.SIG_DFL)


class AirflowStack:
    def __init__(self, home: Path, extra_env: dict[str, str] | None = None, keep_log_as: Path | None = None) -> None:
        self.keep_log_as = keep_log_as
        self.home = home
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.password = secrets.token_urlsafe(12)
        self.log_path = home / "standalone.log"
        self.proc: subprocess.Popen | None = None
        self.extra_env = extra_env or {}
        self._token: str | None = None

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "PYTEST", "VIRTUAL_ENV"))}
        env.update(
            {
                # The venv is NOT on PATH: the script must find it by itself, as from a fresh clone.
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "NPS_VENV": sys.prefix,
                "AIRFLOW_HOME": str(self.home),
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__BASE_URL": self.url,
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.url}/execution/",
                "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
                "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
                # Runs only when a test triggers them: no timetable runs racing the assertions.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
                # The log servers of the scheduler's workers and the triggerer, off their fixed ports.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
            }
        )
        env.update(self.extra_env)
        return env

    # -- life cycle ------------------------------------------------------------------------------
    def start(self, timeout: float = 240) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps({"admin": self.password}))
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "airflow-ui.sh")],
            cwd=ROOT,
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so stop() can Ctrl-C all of it
            preexec_fn=_signals_as_in_a_terminal,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow-ui.sh exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                self.token()
                return
            except (OSError, urllib.error.URLError):
                time.sleep(2)
        raise RuntimeError(f"the API server did not answer within {timeout:.0f} s:\n{self.tail()}")

    def stop(self, timeout: float = 90) -> list[str]:
        """Ctrl-C the stack; return the command lines of its processes still alive afterwards."""
        if self.proc is None:
            return []
        sid = self.proc.pid  # start_new_session: the script leads its own session
        try:
            os.killpg(sid, signal.SIGINT)  # what Ctrl-C in a terminal sends to the foreground group
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        left = self.session_processes(sid)
        while left and time.monotonic() < deadline:
            time.sleep(1)
            left = self.session_processes(sid)
        if left:
            for pid in left:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._log.close()
        if self.keep_log_as is not None:  # kept as a test artifact for whoever reads a failure
            self.keep_log_as.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.log_path, self.keep_log_as)
        self.proc = None
        return sorted(left.values())

    @staticmethod
    def session_processes(sid: int) -> dict[int, str]:
        """The live (not zombie) processes of a session, by pid, with their command lines."""
        alive = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                text = stat.read_text()
                fields = text.rsplit(")", 1)[1].split()
                if fields[0] != "Z" and int(fields[3]) == sid:
                    cmd = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    alive[int(stat.parent.name)] = cmd.strip()
            except (OSError, IndexError, ValueError):
                continue
        return alive

    def tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # -- REST ------------------------------------------------------------------------------------
    def token(self) -> str:
        req = urllib.request.Request(
            f"{self.url}/auth/token",
            data=json.dumps({"username": "admin", "password": self.password}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            self._token = json.loads(resp.read())["access_token"]
        return self._token

    def client(self):
        import airflow_client.client as ac

        return ac.ApiClient(ac.Configuration(host=self.url, access_token=self._token or self.token()))
