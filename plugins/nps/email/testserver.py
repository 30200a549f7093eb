"""A local SendGrid-compatible HTTP server for tests and benchmarks (``POST /v3/mail/send``).

It records every request (path, headers, JSON body), answers 202 with an ``X-Message-Id``, and
can be scripted to answer 429, 500, 400 or to stall (to trigger the client's timeout) for the
next requests. Runs in a thread (tests) or as ``python -m nps.email.testserver PORT``
(benchmarks, so the server does not compete with the sender for the GIL).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeSendGrid:
    """``with FakeSendGrid() as sg: SendGridHook(key, host=sg.url)``; ``sg.script(429, 202, ...)``."""

    def __init__(self, *, parse: bool = True, port: int = 0) -> None:
        self.parse = parse
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.bytes_received = 0
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        # Leaving the ``with`` block waits for requests still in flight (e.g. a scripted sleep
        # past the client's timeout), so what the server accepted is complete when tests count it.
        self._server.daemon_threads = False
        self._server.block_on_close = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, *responses) -> None:
        """Queue answers: an int status, ``("sleep", seconds)``, or ``(status, body_dict)``."""
        self._script.extend(responses)

    def accepted_custom_args(self) -> list[dict[str, str]]:
        return [p["custom_args"] for body in self.accepted for p in body["personalizations"]]

    def __enter__(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with outer._lock:
                    n = len(outer.requests) + 1
                    action = outer._script.popleft() if outer._script else 202
                    body = json.loads(raw) if outer.parse else None
                    outer.bytes_received += len(raw)
                    outer.requests.append({"path": self.path, "headers": dict(self.headers), "body": body, "status": action})
                reply: dict[str, Any] = {}
                if isinstance(action, tuple) and action[0] == "sleep":
                    time.sleep(action[1])
                    action = 202
                if isinstance(action, tuple):
                    action, reply = action
                if action == 202:
                    with outer._lock:
                        if body is not None:
                            outer.accepted.append(body)
                    self.send_response(202)
                    self.send_header("X-Message-Id", f"msg-{n:05d}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if not reply:
                    reply = {"errors": [{"message": f"simulated HTTP {action}", "field": None, "help": None}]}
                data = json.dumps(reply).encode()
                self.send_response(action)
                if action == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


def main(argv: list[str]) -> None:
    """Serve on the given port until killed, printing the request count on SIGTERM."""
    import signal

    server = FakeSendGrid(parse=False, port=int(argv[1]) if len(argv) > 1 else 0)

    def stop(*_):
        print(f"requests {len(server.requests)} bytes {server.bytes_received}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(server.url, flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
