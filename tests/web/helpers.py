"""Helpers for the response page's tests: a config, settings, a real server process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-not-for-production-0123456789"
NOW = datetime(2026, 11, 10, 12, 0, 0)


def config_dict(**web) -> dict:
    data = yaml.safe_load((ROOT / "include/config/program.yaml").read_text(encoding="utf-8"))
    data["program"]["survey_base_url"] = "http://127.0.0.1/s"
    data["program"]["unsubscribe_url"] = "http://127.0.0.1/unsubscribe"
    data["web"] = {**data.get("web", {}), **web}
    return data


def settings(tmp_path: Path, *, sender: str | None = None, comment_max: int | None = None, now: datetime | None = NOW,
             scanner_window: float = 1.0, **web):
    from nps.config import parse_config
    from nps.web.settings import Settings

    data = config_dict(**web)
    if sender:
        data["sender"]["name"] = sender
    if comment_max:
        data["program"]["comment_max_chars"] = comment_max
    fake = None
    if now is not None:
        fake = tmp_path / "now.txt"
        fake.write_text(now.isoformat())
    return Settings(secret=SECRET, landing=tmp_path / "landing", config=parse_config(data), rotate_seconds=0.2,
                    fake_now_file=fake, scanner_window_seconds=scanner_window)


def answers(landing: Path) -> list[dict]:
    """Every answer line the page wrote (published files and any still-open part file)."""
    out = []
    folder = landing / "responses"
    for p in sorted(folder.glob("*.jsonl")) + sorted(folder.glob(".web-*.part")):
        out += [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]
    return out


def events(landing: Path) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((landing / "events").glob("*.json"))]


@contextmanager
def server(tmp_path: Path, *, config: dict | None = None, env: dict | None = None, landing: Path | None = None):
    """``python -m nps.web`` on 127.0.0.1:<ephemeral>; yields (base_url, process); always stopped."""
    cfg = tmp_path / "program.yaml"
    cfg.write_text(yaml.safe_dump(config or config_dict(), allow_unicode=True), encoding="utf-8")
    port_file = tmp_path / "port"
    port_file.unlink(missing_ok=True)
    full_env = {**os.environ, "NPS_TOKEN_SECRET": SECRET, "NPS_LANDING_URI": str(landing or tmp_path / "landing"),
                "NPS_PROGRAM_CONFIG": str(cfg), "PYTHONPATH": str(ROOT / "plugins"), "NPS_WEB_ROTATE_SECONDS": "0.3",
                **(env or {})}
    log = open(tmp_path / "server.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "nps.web", "--port", "0", "--port-file", str(port_file)],
                            env=full_env, cwd=ROOT, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"survey page did not start: {(tmp_path / 'server.log').read_text()[-2000:]}")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{int(port_file.read_text())}", proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
