"""Serving an ASGI app with uvicorn from inside a process, and picking a free local port.

The hub's API, a connector's health endpoint and the synthetic health system are all served the same way:
uvicorn started on the running event loop (or, for synchronous callers, a thread of its own), waited on
until it listens, and stopped with the block that started it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import uvicorn

App = Callable[..., Awaitable[None]]
# uvicorn sets ``Server.started`` but offers no event to wait on, so readiness is polled.
_POLL_S = 0.02


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on at the moment of asking.

    Another process may take it before the caller binds it; where that matters, bind the socket first and
    hand it over, as :func:`serve_in_thread` does.
    """
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _server(app: App, host: str, port: int) -> uvicorn.Server:
    # Imported here: free_port's callers (the local Kafka's CLI) serve no HTTP and need not load uvicorn.
    import uvicorn

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        # Request lines carry referral ids, and the health system's query strings names and dates of birth.
        access_log=False,
        # What an app needs is opened and closed by the service around the server, not by the app.
        lifespan="off",
        # Nothing is served over websockets; "none" keeps uvicorn from looking for a library for them.
        ws="none",
    )
    return uvicorn.Server(config)


def _bound_port(server: uvicorn.Server) -> int:
    return int(server.servers[0].sockets[0].getsockname()[1])


@dataclass(frozen=True)
class Served:
    # The port listened on (what port 0 became), or 0 when the server failed to start.
    port: int
    # Ends when the server does; awaiting it raises why it failed.
    task: asyncio.Task[None]


@asynccontextmanager
async def serve(app: App, host: str, port: int, name: str = "http") -> AsyncIterator[Served]:
    """Serve ``app`` from a task on the running loop until the block ends.

    The block is entered once the server listens, or once it has failed to start (then ``port`` is 0 and
    ``task`` holds the failure), so a caller can report readiness and then wait on ``task`` beside its
    other work.
    """
    server = _server(app, host, port)
    task = asyncio.create_task(server.serve(), name=name)
    try:
        while not server.started and not task.done():  # noqa: ASYNC110 - no started event to wait on
            await asyncio.sleep(_POLL_S)
        yield Served(_bound_port(server) if server.started else 0, task)
    finally:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)


@contextmanager
def serve_in_thread(app: App, host: str = "127.0.0.1", timeout_s: float = 10.0) -> Iterator[int]:
    """Serve ``app`` on a free port from a thread with its own event loop; yields the port.

    For synchronous callers (tests, tools). The socket is bound before the server starts, so no other
    process can take the port in between.
    """
    sock = socket.socket()
    sock.bind((host, 0))
    server = _server(app, host, 0)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name="http")
    thread.start()
    try:
        deadline = time.monotonic() + timeout_s
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the HTTP server failed to start")
            if time.monotonic() > deadline:
                raise TimeoutError(f"the HTTP server did not start within {timeout_s:.0f} s")
            time.sleep(_POLL_S / 2)
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
