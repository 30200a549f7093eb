"""A Slack Incoming Webhook stand-in for tests: ``POST /services/...`` with a JSON body.

Records every request (path and parsed JSON body) and answers as Slack does: 200 ``ok``, or what
the test scripted for the next requests with ``script()``: a status (``404`` ``no_service``,
``429``/``500`` with Slack's plain-text bodies) or ``("sleep", seconds)`` (posted, answered late).
``with SlackWebhookServer() as slack: slack.webhook_url`` is the URL for the connection's password.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN_PATH = "/services/T000TEST/B000TEST/not-a-real-webhook-secret"
_BODIES = {404: "no_service", 400: "invalid_payload", 429: "rate_limited", 500: "internal_error"}


class SlackWebhookServer:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # Leaving the ``with`` block waits for a request still being answered (a scripted sleep).
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.url + TOKEN_PATH

    @property
    def posted(self) -> list[dict[str, Any]]:
        """The bodies Slack would have shown (answered 200, even too late for the client)."""
        return [r["body"] for r in self.requests if r["status"] == 200]

    def script(self, *answers) -> None:
        self._script.extend(answers)

    def __enter__(self) -> SlackWebhookServer:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry = {"path": self.path, "status": None, "body": json.loads(raw or b"null"),
                         "content_type": self.headers.get("Content-Type")}
                with outer._lock:
                    outer.requests.append(entry)  # counted when received, even if answered late
                    action = outer._script.popleft() if outer._script else 200
                if isinstance(action, tuple) and action[0] == "sleep":
                    time.sleep(action[1])
                    action = 200
                status = int(action) if self.path == TOKEN_PATH else 404
                entry["status"] = status
                data = ("ok" if status == 200 else _BODIES.get(status, "error")).encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
