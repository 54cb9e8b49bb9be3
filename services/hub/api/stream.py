"""Following case updates as server-sent events: one ``case`` event each time a case's view changes.

Each token may hold only so many streams open at once: a stream holds a queue and a connection for as long
as the client likes, so without a cap one token could hold the hub's memory and sockets."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, HTTPException
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask

from services.hub.api.deps import Broadcast, Hub, HubState, Reader

router = APIRouter()


class _Lease:
    """One open stream counted against its token; given back once, however the stream ends."""

    def __init__(self, hub: HubState, key: str) -> None:
        self._hub, self._key, self._held = hub, key, True
        hub.streams[key] = hub.streams.get(key, 0) + 1

    def release(self) -> None:
        if self._held:
            self._held = False
            left = self._hub.streams[self._key] - 1
            if left:
                self._hub.streams[self._key] = left
            else:
                del self._hub.streams[self._key]


async def _events(broadcast: Broadcast, lease: _Lease) -> AsyncIterator[str]:
    try:
        yield ": following case updates\n\n"
        async for rid in broadcast.follow():
            yield f"event: case\ndata: {json.dumps({'referral_id': rid})}\n\n"
    finally:
        lease.release()


@router.get("/cases/stream")
async def stream(hub: Hub, who: Reader) -> StreamingResponse:
    if hub.streams.get(who.key, 0) >= hub.limits.max_streams_per_token:
        raise HTTPException(
            429,
            f"this token has {hub.limits.max_streams_per_token} streams open already",
            {"Retry-After": "5"},
        )
    lease = _Lease(hub, who.key)
    # The background task gives the lease back too, in case the stream ended before its generator started.
    return StreamingResponse(
        _events(hub.broadcast, lease),
        media_type="text/event-stream",
        background=BackgroundTask(lease.release),
    )
