"""How ``python -m nps.web`` listens: every accepted connection has Nagle's algorithm off.

With it on, each response's body (written right after its headers) waited for the client's
delayed ACK, 40 ms per answer on Linux: the page managed ~600 answers/s with its CPU mostly idle.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from nps.web.__main__ import CoalescingTransport, http_protocol, listening_socket

pytestmark = pytest.mark.unit


def _loop_factory(name: str):
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop
    return asyncio.new_event_loop


@pytest.mark.parametrize("loop", [pytest.param("asyncio", id="asyncio"), pytest.param("uvloop", id="uvloop")])
def test_accepted_connections_have_nagle_off(loop):
    sock = listening_socket("127.0.0.1", 0)
    assert sock.proto == socket.IPPROTO_TCP
    assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    seen: list[int] = []

    class Probe(asyncio.Protocol):
        def connection_made(self, transport) -> None:  # noqa: ANN001
            seen.append(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
            transport.close()

    async def go() -> None:
        server = await asyncio.get_running_loop().create_server(Probe, sock=sock)
        port = sock.getsockname()[1]
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        for _ in range(200):
            if seen:
                break
            await asyncio.sleep(0.01)
        writer.close()
        server.close()
        await server.wait_closed()

    with asyncio.Runner(loop_factory=_loop_factory(loop)) as runner:
        runner.run(go())
    assert len(seen) == 1 and seen[0] != 0



class RecordingTransport(asyncio.Transport):
    """What a socket transport would send, call by call."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data) -> None:  # noqa: ANN001
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_write_buffer_size(self) -> int:
        return 0

    def pause_reading(self) -> None:
        pass

    def resume_reading(self) -> None:
        pass

    def get_extra_info(self, name, default=None):  # noqa: ANN001, ANN201
        return {"sockname": ("127.0.0.1", 8090), "peername": ("127.0.0.1", 40000)}.get(name, default)


def test_coalescing_transport_sends_one_turns_writes_at_once_in_order():
    async def go() -> RecordingTransport:
        inner = RecordingTransport()
        t = CoalescingTransport(inner, asyncio.get_running_loop())
        t.write(b"HTTP/1.1 200 OK\r\n\r\n")
        t.write(b"")
        t.writelines([b"<h1>", b"Thanks</h1>"])
        assert inner.writes == [] and t.get_write_buffer_size() == 34  # nothing sent mid-turn
        await asyncio.sleep(0)
        assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\n<h1>Thanks</h1>"]
        t.write(b"next")
        await asyncio.sleep(0)
        t.write(b"last")
        t.close()  # what is pending goes out before the close
        assert inner.writes[1:] == [b"next", b"last"] and inner.closed
        t.write(b"after close")
        await asyncio.sleep(0)
        assert inner.writes[3:] == []  # a closed transport sends nothing more
        return inner

    asyncio.run(go())

    async def aborted() -> RecordingTransport:
        inner = RecordingTransport()
        t = CoalescingTransport(inner, asyncio.get_running_loop())
        t.write(b"half a response")
        t.abort()
        await asyncio.sleep(0)
        return inner

    inner = asyncio.run(aborted())
    assert inner.writes == [] and inner.aborted


def test_the_page_answers_in_one_send_through_uvicorns_protocol(tmp_path):
    """The real page behind uvicorn's httptools protocol: status line, headers and body in one
    write to the socket (uvicorn alone writes headers and body separately)."""
    import uvicorn
    from uvicorn.server import ServerState

    from nps.web.app import create_app
    from tests.web.helpers import settings

    s = settings(tmp_path)
    s.landing.mkdir(parents=True)
    protocol_class = http_protocol()
    config = uvicorn.Config(create_app(s), http=protocol_class, ws="none", lifespan="off", log_level="warning")
    config.load()

    async def go() -> RecordingTransport:
        inner = RecordingTransport()
        proto = protocol_class(config=config, server_state=ServerState(), app_state={})
        proto.connection_made(inner)
        proto.data_received(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for _ in range(200):
            if inner.writes:
                break
            await asyncio.sleep(0.005)
        await asyncio.sleep(0.05)  # a second write, were there one, would be here by now
        proto.connection_lost(None)
        return inner

    inner = asyncio.run(go())
    assert len(inner.writes) == 1
    head, _, body = inner.writes[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK\r\n")
    assert b"\r\ncontent-security-policy: default-src 'none';" in head and b"\r\ncontent-length: 15" in head
    assert body == b'{"status":"ok"}'
