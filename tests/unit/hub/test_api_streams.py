"""Live streams are capped per token, through a real HTTP server: a stream is a long-held connection, which
an in-process transport does not model."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import AsyncExitStack

import httpx

from jigsaw.serving import serve
from services.hub import store as hub_store
from services.hub.api import Broadcast, Limits, create_app
from services.hub.config import ApiToken, token_hash


async def test_a_token_may_hold_only_so_many_streams_and_gets_them_back_when_they_close() -> None:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.executescript(hub_store.SCHEMA)
    tokens = {
        "wall": ApiToken(subscriber="s", sha256=token_hash("wall")),
        "desk": ApiToken(subscriber="s", sha256=token_hash("desk")),
    }
    app = create_app(
        subscriber="s",
        tokens=tokens,
        db=db,
        intake=None,
        broadcast=Broadcast(),
        subscribers=["s"],
        limits=Limits(max_streams_per_token=2),
    )
    async with serve(app, "127.0.0.1", 0) as served, AsyncExitStack() as streams:
        url = f"http://127.0.0.1:{served.port}/cases/stream"
        client = await streams.enter_async_context(httpx.AsyncClient(timeout=10))
        wall, desk = {"Authorization": "Bearer wall"}, {"Authorization": "Bearer desk"}

        async def open_stream(headers: dict[str, str]) -> httpx.Response:
            return await streams.enter_async_context(client.stream("GET", url, headers=headers))

        held = [await open_stream(wall) for _ in range(2)]
        assert [r.status_code for r in held] == [200, 200]
        refused = await client.get(url, headers=wall)
        assert refused.status_code == 429, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        assert (await open_stream(desk)).status_code == 200, "the cap is per token"

        await held[0].aclose()
        for _ in range(100):  # the server sees the close a moment later
            if app.state.hub.streams.get(token_hash("wall"), 0) < 2:
                break
            await asyncio.sleep(0.05)
        assert (await open_stream(wall)).status_code == 200
    db.close()
