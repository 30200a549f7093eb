"""Run the survey response page: ``python -m nps.web [--host 127.0.0.1] [--port 8090]``.

Binds 127.0.0.1 unless told otherwise (put a TLS-terminating proxy or load balancer in front for
the internet, and pass ``--proxy-headers --forwarded-allow-ips=<proxy>`` so rate limits see the
real client). ``--port 0`` picks a free port; ``--port-file`` receives the port once the server
listens (tests, the demo). Uvicorn's access log is off: it would log every token; the page logs
what matters without them.

Served on uvloop when installed (``--loop``/``NPS_WEB_LOOP`` to choose), with Nagle's algorithm
off and each response sent in one ``send``: see docs/web.md, "Where the time went".
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import sys


def listening_socket(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """The bound, listening TCP socket the server is handed (inheritable, Nagle off)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP, not 0: asyncio turns Nagle off only on sockets whose proto says TCP. With Nagle
    # on, a response's body (sent right after its headers) waited for the client's delayed ACK:
    # 40 ms on every answer, which capped the page at (clients / 44 ms) however idle its CPU was.
    # TCP_NODELAY on the listener as well: Linux copies it to every accepted connection.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    sock.set_inheritable(True)
    return sock


class CoalescingTransport:
    """A transport that sends everything written during one turn of the event loop as one
    ``send``. uvicorn writes a response's status line and headers, then its body, in two calls,
    so two system calls and two packets per response; joined, one of each (sequential A/B: the
    server's system CPU per answer 132 -> 121 us, the client's CPU 43 -> 29 us; docs/web.md).
    Bytes and their order are unchanged; a close sends what is pending first."""

    __slots__ = ("_transport", "_loop", "_pending")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._pending is None:
            self._pending = [data]
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)

    def writelines(self, lines) -> None:  # noqa: ANN001
        for data in lines:
            self.write(data)

    def flush(self) -> None:
        pending, self._pending = self._pending, None
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending or ()))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = None
        self._transport.abort()

    def __getattr__(self, name: str):  # noqa: ANN204 - everything else is the real transport's
        return getattr(self._transport, name)


def http_protocol() -> type | str:
    """uvicorn's httptools protocol writing through a ``CoalescingTransport`` (uvicorn's own
    choice when httptools is missing)."""
    try:
        from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
    except ImportError:
        return "auto"

    class CoalescingHttpToolsProtocol(HttpToolsProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)  # flow control and addresses: the real transport
            self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]

    return CoalescingHttpToolsProtocol


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m nps.web", description=__doc__.splitlines()[0])
    ap.add_argument("--host", default=os.environ.get("NPS_WEB_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("NPS_WEB_PORT", "8090")))
    ap.add_argument("--port-file", help="write the listening port here once ready")
    ap.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips")
    ap.add_argument("--forwarded-allow-ips", default="127.0.0.1")
    ap.add_argument("--loop", choices=("auto", "uvloop", "asyncio"), default=os.environ.get("NPS_WEB_LOOP", "auto"),
                    help="event loop (auto: uvloop when installed, as uvicorn picks)")
    ap.add_argument("--log-level", default=os.environ.get("NPS_WEB_LOG_LEVEL", "info"))
    args = ap.parse_args(argv)

    import uvicorn

    from nps.web.app import create_app
    from nps.web.settings import Settings, SettingsError

    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        app = create_app(Settings.from_env())
    except SettingsError as err:
        print(f"survey-web cannot start: {err}", file=sys.stderr)
        return 2
    sock = listening_socket(args.host, args.port)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, loop=args.loop, http=http_protocol(), ws="none", access_log=False,
                            log_level=args.log_level, proxy_headers=args.proxy_headers,
                            forwarded_allow_ips=args.forwarded_allow_ips, server_header=False,
                            timeout_keep_alive=30, limit_concurrency=4096, h11_max_incomplete_event_size=16384)
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started and not task.done():
            await asyncio.sleep(0.02)
        if args.port_file and server.started:
            tmp = f"{args.port_file}.tmp"
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(f"{port}\n")
            os.replace(tmp, args.port_file)
        logging.getLogger("nps.web").info("survey page listening on http://%s:%d", args.host, port)
        await task

    # uvicorn's own loop choice (uvloop when installed, as uvicorn.run would pick): this process
    # starts the server itself, so it must ask for the loop itself.
    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve())
    return 0


if __name__ == "__main__":
    sys.exit(main())
