"""How ``python -m nps.web`` listens: every accepted connection has Nagle's algorithm off.

With it on, each response's body (written right after its headers) waited for the client's
delayed ACK, 40 ms per answer on Linux: the page managed ~600 answers/s with its CPU mostly idle.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from nps.web.__main__ import listening_socket

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

