"""A small SMTP server for tests (127.0.0.1, ephemeral port) that can die mid-batch.

It speaks enough SMTP for ``smtplib`` (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT), records
every message it accepted, and can be told to drop the connection right after accepting the
n-th message (``drop_after=n``): the message was delivered but the client never hears so, which
is what makes an SMTP batch uncertain.
"""

from __future__ import annotations

import email
import socketserver
import threading
from email import policy


class SmtpSink:
    """``with SmtpSink(drop_after=14) as smtp: SmtpTransport("127.0.0.1", smtp.port)``."""

    def __init__(self, *, drop_after: int | None = None) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.drop_after = drop_after
        self._lock = threading.Lock()
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def reply(self, line: str) -> None:
                self.wfile.write(line.encode() + b"\r\n")
                self.wfile.flush()

            def handle(self) -> None:
                self.reply("220 sink ESMTP")
                rcpts: list[str] = []
                while True:
                    raw = self.rfile.readline()
                    if not raw:
                        return
                    cmd = raw.decode("utf-8", "replace").strip()
                    verb = cmd.split(" ", 1)[0].upper()
                    if verb == "EHLO":
                        self.wfile.write(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                        self.wfile.flush()
                    elif verb in ("HELO", "NOOP", "RSET"):
                        rcpts = [] if verb == "RSET" else rcpts
                        self.reply("250 OK")
                    elif verb == "MAIL":
                        rcpts = []
                        self.reply("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(cmd.split(":", 1)[1].strip().strip("<>").split(">")[0])
                        self.reply("250 OK")
                    elif verb == "DATA":
                        self.reply("354 End data with <CR><LF>.<CR><LF>")
                        lines = []
                        while True:
                            line = self.rfile.readline()
                            if not line or line in (b".\r\n", b".\n"):
                                break
                            lines.append(line[1:] if line.startswith(b"..") else line)
                        with outer._lock:
                            outer.messages.append((rcpts, b"".join(lines)))
                            dropped = outer.drop_after is not None and len(outer.messages) == outer.drop_after
                        if dropped:
                            return  # delivered, but the answer never comes
                        self.reply("250 OK queued")
                    elif verb == "QUIT":
                        self.reply("221 Bye")
                        return
                    else:
                        self.reply("502 Command not implemented")

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def send_keys(self) -> list[str]:
        """The X-NPS-Send-Key of every message accepted, in order."""
        return [email.message_from_bytes(data, policy=policy.default)["X-NPS-Send-Key"] for _, data in self.messages]

    def __enter__(self) -> SmtpSink:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
