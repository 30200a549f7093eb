"""The demo's respondents answer through the real response page, the way a customer would.

``survey_page()`` starts ``python -m nps.web`` on a loopback port for the demo (its own process,
like production), writes a demo copy of the program config whose links point at it, and points
``NPS_PROGRAM_CONFIG`` there so the invitations in the outbox carry working links. The page's
clock follows the simulated day through a file (``NPS_WEB_FAKE_NOW_FILE``, demo only).

``Respondent`` opens the links found in the outbox ``.eml`` files over HTTP: GET the clicked
answer's page, then POST the form as the Send button does (a score, maybe a comment, maybe a
changed mind); unsubscribes go through the confirmation page or the RFC 8058 one-click POST of
the ``List-Unsubscribe`` header; a forged link and a link scanner fetching every answer of one
email show what the page refuses.
"""

from __future__ import annotations

import contextlib
import email
import html
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import policy
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import yaml

from nps import PROJECT_ROOT
from nps.config import config_path

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)">')
_SCORE_LINK = re.compile(r'<a href="([^"]+)"[^>]*>(\d+)</a>')


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


class Respondent:
    """An HTTP client for the running page, reading its links from the outbox."""

    def __init__(self, base_url: str, clock_file: Path, outbox: Path, landing: Path, pid: int | None = None) -> None:
        self.base_url, self.clock_file, self.outbox, self.landing = base_url, clock_file, outbox, landing
        self.pid = pid
        u = urlsplit(base_url)
        self.conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        self._emls: dict[str, Path] = {}
        self.counts = {"recorded": 0, "refused": 0, "unsubscribed": 0, "scanned": 0}

    def close(self) -> None:
        self.conn.close()

    # -- plumbing ----------------------------------------------------------------------------
    def at(self, when: datetime) -> None:
        self.clock_file.write_text(when.isoformat(), encoding="utf-8")

    def request(self, method: str, url: str, body: dict | bytes | None = None, lang: str = "en") -> tuple[int, str]:
        u = urlsplit(url)
        path = u.path + (f"?{u.query}" if u.query else "")
        data = urlencode(body).encode() if isinstance(body, dict) else body
        headers = {"Accept-Language": f"{lang},en;q=0.5"}  # a Polish customer's browser asks for Polish
        if data is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read().decode("utf-8")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def links(self, send_key: str) -> tuple[dict[int, str], str]:
        """The answer links and the List-Unsubscribe URL of one invitation in the outbox."""
        from nps.email.outbox import file_name

        name = file_name(send_key)
        if name not in self._emls:
            self._emls = {p.name: p for p in self.outbox.rglob("*.eml")}
        msg = email.message_from_bytes(self._emls[name].read_bytes(), policy=policy.default)
        body = msg.get_body(("html",)).get_content()
        links = {int(n): html.unescape(u) for u, n in _SCORE_LINK.findall(body)}
        return links, str(msg["List-Unsubscribe"] or "").strip("<>")

    # -- what people do ----------------------------------------------------------------------
    def answer(self, send_key: str, clicked: int, score: int, comment: str | None, when: datetime,
               bad: int | None = None, lang: str = "en") -> bool:
        """Click ``clicked`` in the email, then send ``score`` (and the comment); a person who
        clicked another score first sends that one, then changes it. ``bad``: 0 an edited link,
        1 a score off the scale, 2 a score in words (the page refuses them)."""
        links, _ = self.links(send_key)
        url = links[clicked]
        if bad == 0:  # someone edited the token in the link
            u = urlsplit(url)
            query = dict(parse_qsl(u.query))
            query["t"] = query["t"][:-1] + ("A" if query["t"][-1] != "A" else "B")
            url = urlunsplit(u._replace(query=urlencode(query)))
        self.at(when)
        status, page = self.request("GET", url, lang=lang)
        if status != 200:
            self.counts["refused"] += 1
            return False
        form = dict(_HIDDEN.findall(page))
        if bad in (1, 2):
            status, _ = self.request("POST", self.base_url, {**form, "score": "11" if bad == 1 else "ten"}, lang=lang)
            self.counts["refused"] += 1
            return False
        if clicked != score:  # the first click counted, then they changed their mind on the page
            status, _ = self.request("POST", self.base_url, {**form, "score": str(clicked)}, lang=lang)
            self.at(when + timedelta(minutes=2))
        status, _ = self.request("POST", self.base_url, {**form, "score": str(score), "comment": comment or ""},
                                 lang=lang)
        if status == 200:
            self.counts["recorded"] += 1
            return True
        self.counts["refused"] += 1
        return False

    def unsubscribe(self, send_key: str, when: datetime, one_click: bool) -> bool:
        _, url = self.links(send_key)
        self.at(when)
        if one_click:  # the mailbox provider's button (RFC 8058)
            status, _ = self.request("POST", url, b"List-Unsubscribe=One-Click")
        else:
            status, page = self.request("GET", url)
            if status == 200:
                status, _ = self.request("POST", url.split("?")[0], dict(_HIDDEN.findall(page)))
        self.counts["unsubscribed"] += status == 200
        return status == 200

    def scan(self, send_key: str, when: datetime) -> None:
        """A mail gateway fetching every link of an email within a second: nothing is recorded."""
        links, _ = self.links(send_key)
        self.at(when)
        for url in links.values():
            self.request("GET", url)
        self.counts["scanned"] += 1

    def flush(self, timeout: float = 30.0) -> None:
        """Have the page hand its answer file to the landing area now (SIGUSR1), and wait for it:
        one file per simulated day, so every run of the demo tells the same story."""
        folder = self.landing / "responses"
        if self.pid is not None and list(folder.glob(".web-*.part")):
            os.kill(self.pid, signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        while list(folder.glob(".web-*.part")):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the survey page kept an answer file open in {folder} for {timeout:.0f} s")
            time.sleep(0.05)


@contextlib.contextmanager
def survey_page(work_dir: Path, landing: str, secret: str, outbox: str) -> Iterator[Respondent]:
    """Run the response page for the demo; yields a Respondent; stops the page at the end."""
    work_dir.mkdir(parents=True, exist_ok=True)
    wanted = int(os.environ.get("NPS_DEMO_WEB_PORT", "8090"))
    port = wanted if wanted and _free(wanted) else 0
    clock = work_dir / "web-now.txt"
    clock.write_text("", encoding="utf-8")
    port_file = work_dir / "web-port"
    port_file.unlink(missing_ok=True)
    base_config = config_path()
    demo_config = work_dir / "program.yaml"
    env = {**os.environ, "NPS_TOKEN_SECRET": secret, "NPS_LANDING_URI": landing, "NPS_WEB_ROTATE_SECONDS": "86400",
           "NPS_WEB_FAKE_NOW_FILE": str(clock), "NPS_PROGRAM_CONFIG": str(demo_config),
           "PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    data = yaml.safe_load(base_config.read_text(encoding="utf-8"))
    # Every simulated respondent comes from 127.0.0.1: the per-address limit is for the internet.
    data["web"] = {**(data.get("web") or {}), "rate_limit_per_address": 1_000_000}
    data["program"]["survey_base_url"] = "http://127.0.0.1/s"  # the page only needs the paths
    data["program"]["unsubscribe_url"] = "http://127.0.0.1/unsubscribe"
    demo_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    log = open(work_dir / "survey-web.log", "ab")  # noqa: SIM115 - closed below
    proc = subprocess.Popen([sys.executable, "-m", "nps.web", "--port", str(port), "--port-file", str(port_file)],
                            env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log)
    saved = os.environ.get("NPS_PROGRAM_CONFIG")
    try:
        deadline = time.monotonic() + 60
        while not port_file.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the survey page did not start; see {work_dir / 'survey-web.log'}")
            time.sleep(0.05)
        base = f"http://127.0.0.1:{int(port_file.read_text())}"
        data["program"]["survey_base_url"] = f"{base}/s"
        data["program"]["unsubscribe_url"] = f"{base}/unsubscribe"
        demo_config.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
        os.environ["NPS_PROGRAM_CONFIG"] = str(demo_config)  # the invitations link to the running page
        r = Respondent(f"{base}/s", clock, Path(outbox), Path(landing), proc.pid)
        try:
            yield r
            r.flush()
        finally:
            r.close()
    finally:
        if saved is None:
            os.environ.pop("NPS_PROGRAM_CONFIG", None)
        else:
            os.environ["NPS_PROGRAM_CONFIG"] = saved
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        log.close()
