"""Bounds that hold before a route runs: the request body's size, read and refused before it is parsed."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.hub.api import errors


class BodyLimit:
    """Refuses with 413 a body over ``limit`` bytes, whether declared by Content-Length or streamed in
    chunks. The body is read here, up to the limit, and handed on whole, so no route sees a larger one."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"0")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client left; the route's own receive will see it
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limit:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        await self.app(scope, _replay(b"".join(chunks), receive), send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        errors.count(scope["app"], scope, 413)
        detail = f"the request body is over the limit of {self.limit} bytes"
        response = errors.problem(413, "request refused", detail, {"Connection": "close"})
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def again() -> Message:
        nonlocal sent
        if sent:
            return await receive()  # after the body, what the server says next (a disconnect, say)
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return again
