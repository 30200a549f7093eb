"""A strict SendGrid-compatible HTTP server for tests and benchmarks (``POST /v3/mail/send``).

It enforces the v3 Mail Send rules the project relies on (``DOMAIN.md`` §8) and answers a broken
request the way SendGrid does, with its JSON error shape
``{"errors": [{"message": ..., "field": ..., "help": ...}]}``:

- ``Authorization: Bearer <api_key>`` must carry the server's key (401 otherwise);
- required fields: ``personalizations`` (each with a ``to`` list of valid addresses), ``from.email``,
  ``subject``, ``content`` (at least one block with ``type`` and ``value``);
- at most 1,000 personalizations and 1,000 recipients per request;
- each address at most once per request (across to/cc/bcc of every personalization);
- ``custom_args`` values are strings, and a personalization's custom_args (with the message-level
  ones merged in) stay under 10,000 bytes; at most 10 categories.

A valid request is accepted (202 with ``X-Message-Id``) unless the test scripted something else
for it with ``script()``: a status (429 comes WITHOUT rate-limit headers, as mail/send may send
it), ``(status, body)``, ``(status, body, headers)``, ``("sleep", seconds)`` (a slow answer; the
request is still accepted), or ``"drop"`` (accepted, then the connection closes with no answer).

``webhook_events()`` returns the Event Webhook JSON SendGrid would post for what was accepted
(one event per personalization, ``custom_args`` echoed as top-level keys, ``sg_message_id``
starting with the request's X-Message-Id), so tests can drop it into the landing area.

Runs in a thread (tests: ``with FakeSendGrid() as sg``) or as
``python -m tests.support.sendgrid_server [PORT] [API_KEY] [--validate]`` (benchmarks, so the
server does not compete with the sender for the GIL).
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

DEFAULT_API_KEY = "SG.test-key"
MAX_PERSONALIZATIONS = 1000
MAX_RECIPIENTS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
MAX_CATEGORIES = 10
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"


class _Reject(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error_body(message: str, field: str | None = None, help_url: str | None = None) -> dict[str, Any]:
    """SendGrid's error shape."""
    return {"errors": [{"message": message, "field": field, "help": help_url}]}


def validate(body: Any) -> None:
    """Raise ``_Reject`` for the first v3 Mail Send rule the request body breaks."""
    if not isinstance(body, dict):
        raise _Reject(400, "Bad Request")
    sender = body.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        raise _Reject(400, "The from object must be provided for every email send. It is an object that requires the "
                           "email parameter, but may also contain a name parameter.", "from.email")
    if not _ADDRESS.match(str(sender["email"])):
        raise _Reject(400, "The from email does not contain a valid address.", "from.email")
    ps = body.get("personalizations")
    if not isinstance(ps, list) or not ps:
        raise _Reject(400, "The personalizations field is required and must have at least one personalization.",
                      "personalizations")
    if len(ps) > MAX_PERSONALIZATIONS:
        raise _Reject(400, f"The personalizations field is limited to {MAX_PERSONALIZATIONS} personalizations per API "
                           f"request. You have provided {len(ps)} personalizations.", "personalizations")
    top_args = body.get("custom_args") or {}
    if not isinstance(top_args, dict):
        raise _Reject(400, "Invalid type. Expected: object.", "custom_args")
    for k, v in top_args.items():
        if not isinstance(v, str):
            raise _Reject(400, f"Invalid type. Expected: string, given: {type(v).__name__}.", f"custom_args.{k}")
    seen: set[str] = set()
    recipients = 0
    every_subject = True
    for i, p in enumerate(ps):
        if not isinstance(p, dict):
            raise _Reject(400, "Invalid type. Expected: object.", f"personalizations.{i}")
        to = p.get("to")
        if not isinstance(to, list) or not to:
            raise _Reject(400, "The to array is required for all personalization objects, and must have at least one "
                               "email object with a valid email address.", f"personalizations.{i}.to")
        every_subject = every_subject and bool(p.get("subject"))
        for kind in ("to", "cc", "bcc"):
            for j, addr in enumerate(p.get(kind) or []):
                email = str((addr or {}).get("email") or "") if isinstance(addr, dict) else ""
                if not _ADDRESS.match(email):
                    raise _Reject(400, "Does not contain a valid address.", f"personalizations.{i}.{kind}.{j}.email")
                norm = email.strip().lower()
                if norm in seen:
                    # SendGrid names the address in this message (callers must not log it as is).
                    raise _Reject(400, "Each email address in the personalization block should be unique between to, "
                                       f"cc, and bcc. We found the first duplicate instance of [{email}] in the "
                                       f"personalizations.{i}.{kind} field.", f"personalizations.{i}.{kind}")
                seen.add(norm)
                recipients += 1
        args = p.get("custom_args") or {}
        if not isinstance(args, dict):
            raise _Reject(400, "Invalid type. Expected: object.", f"personalizations.{i}.custom_args")
        for k, v in args.items():
            if not isinstance(v, str):
                raise _Reject(400, f"Invalid type. Expected: string, given: {type(v).__name__}.",
                              f"personalizations.{i}.custom_args.{k}")
        size = len(json.dumps({**top_args, **args}, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
        if size >= MAX_CUSTOM_ARGS_BYTES:
            raise _Reject(400, f"The custom_args of a personalization must total less than {MAX_CUSTOM_ARGS_BYTES} "
                               f"bytes ({size} given).", f"personalizations.{i}.custom_args")
    if recipients > MAX_RECIPIENTS:
        raise _Reject(400, f"The total number of recipients must be less than {MAX_RECIPIENTS}. This includes all "
                           "recipients defined within the to, cc, and bcc parameters, across each object that you "
                           "include in the personalizations array.", "personalizations")
    if not body.get("subject") and not body.get("template_id") and not every_subject:
        raise _Reject(400, "The subject is required. You can get around this requirement if you use a template with a "
                           "subject defined or if every personalization has a subject defined.", "subject")
    content = body.get("content")
    if not body.get("template_id"):
        if not isinstance(content, list) or not content:
            raise _Reject(400, "Unless a valid template_id is provided, the content parameter is required. There must "
                               "be at least one defined content block.", "content")
        for i, block in enumerate(content):
            if not isinstance(block, dict) or not block.get("type") or not isinstance(block.get("value"), str) \
                    or not block["value"]:
                raise _Reject(400, "The content value must be a string at least one character in length.",
                              f"content.{i}.value")
    cats = body.get("categories") or []
    if len(cats) > MAX_CATEGORIES:
        raise _Reject(400, f"Too many categories on this message. The maximum number of categories is {MAX_CATEGORIES}.",
                      "categories")


class FakeSendGrid:
    """``with FakeSendGrid() as sg: SendGridHook(sg.api_key, host=sg.url)``; ``sg.script(429, "drop", ...)``."""

    def __init__(self, *, api_key: str = DEFAULT_API_KEY, parse: bool = True, port: int = 0) -> None:
        self.api_key = api_key
        self.parse = parse
        self.requests: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        self.message_ids: list[str] = []  # X-Message-Id of each accepted body, in order
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
        """Queue answers for the next valid requests (see the module docstring)."""
        self._script.extend(responses)

    def accepted_custom_args(self) -> list[dict[str, str]]:
        return [p["custom_args"] for body in self.accepted for p in body["personalizations"]]

    def webhook_events(self, event: str = "processed", *, timestamp: int = 1_790_000_000,
                       only: set[str] | None = None) -> list[dict[str, Any]]:
        """The Event Webhook batch SendGrid would post for the accepted messages (optionally only some send keys)."""
        out = []
        for xid, body in zip(self.message_ids, self.accepted, strict=True):
            for i, p in enumerate(body["personalizations"]):
                args = {**(body.get("custom_args") or {}), **(p.get("custom_args") or {})}
                if only is not None and args.get("send_key") not in only:
                    continue
                sg_message_id = f"{xid}.filterdrecv-0001.{i}.0"
                out.append({
                    "email": p["to"][0]["email"],
                    "timestamp": timestamp,
                    "event": event,
                    "sg_event_id": hashlib.sha256(f"{sg_message_id}|{event}".encode()).hexdigest()[:22],
                    "sg_message_id": sg_message_id,
                    "category": body.get("categories") or [],
                    **args,
                })
        return out

    def write_webhook_batch(self, landing_root: Path | str, name: str, events: list[dict[str, Any]]) -> Path:
        """Write an Event Webhook batch where ingestion picks it up: ``<landing>/events/<name>``."""
        path = Path(landing_root) / "events" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(events), encoding="utf-8")
        return path

    def __enter__(self) -> FakeSendGrid:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict | None = None, headers: dict | None = None) -> None:
                data = json.dumps(body).encode() if body is not None else b""
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if body is not None:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            def do_GET(self) -> None:  # noqa: N802
                self._reply(405, error_body("Method not allowed"))

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                entry: dict[str, Any] = {"path": self.path, "headers": dict(self.headers), "body": None, "status": None}
                with outer._lock:
                    outer.requests.append(entry)
                    outer.bytes_received += len(raw)
                try:
                    if self.path.rstrip("/") != "/v3/mail/send":
                        raise _Reject(404, f"resource not found: {self.path}")
                    if self.headers.get("Authorization") != f"Bearer {outer.api_key}":
                        raise _Reject(401, "The provided authorization grant is invalid, expired, or revoked")
                    if outer.parse:
                        try:
                            body = json.loads(raw)
                        except ValueError:
                            raise _Reject(400, "Bad Request") from None
                        entry["body"] = body
                        validate(body)
                    else:
                        body = None
                except _Reject as rej:
                    entry["status"] = rej.status
                    help_url = _HELP if rej.field else None
                    self._reply(rej.status, error_body(rej.message, rej.field, help_url))
                    return
                with outer._lock:
                    action = outer._script.popleft() if outer._script else 202
                entry["status"] = action
                if isinstance(action, tuple) and action[0] == "sleep":
                    time.sleep(action[1])
                    action = 202
                if action in (202, "drop"):
                    with outer._lock:
                        n = len(outer.message_ids) + 1
                        xid = f"msg-{n:05d}"
                        outer.message_ids.append(xid)
                        if body is not None:
                            outer.accepted.append(body)
                    if action == "drop":
                        # Accepted, then the connection dies before the answer (a proxy reset, a crash).
                        self.close_connection = True
                        return
                    self._reply(202, None, {"X-Message-Id": xid})
                    return
                reply, headers = None, {}
                if isinstance(action, tuple):
                    action, reply, *rest = action
                    headers = rest[0] if rest else {}
                if reply is None:
                    reply = error_body(f"simulated HTTP {action}")
                self._reply(int(action), reply, headers)

        return Handler


def main(argv: list[str]) -> None:
    """Serve on the given port until killed, printing the request count on SIGTERM.

    ``[PORT] [API_KEY] [--validate]``: the API key is always checked; the body is parsed and held
    to the Mail Send rules only with ``--validate`` (the dispatch benchmark measures the sender,
    not this server's JSON parsing, which costs tens of milliseconds per 1,000-recipient request).
    """
    import signal

    args = [a for a in argv[1:] if not a.startswith("--")]
    port = int(args[0]) if args else 0
    key = args[1] if len(args) > 1 else DEFAULT_API_KEY
    server = FakeSendGrid(api_key=key, port=port, parse="--validate" in argv)

    def stop(*_):
        print(f"requests {len(server.requests)} accepted {len(server.accepted)} bytes {server.bytes_received}", flush=True)
        sys.exit(0)

    signal.signal(signal.SIGTERM, stop)
    print(server.url, flush=True)
    server._server.serve_forever()


if __name__ == "__main__":
    main(sys.argv)
