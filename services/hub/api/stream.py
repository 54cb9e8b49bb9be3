"""Following case updates as server-sent events: one ``case`` event each time a case's view changes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from services.hub.api.deps import Broadcast, Hub

router = APIRouter()


async def _events(broadcast: Broadcast) -> AsyncIterator[str]:
    yield ": following case updates\n\n"
    async for rid in broadcast.follow():
        yield f"event: case\ndata: {json.dumps({'referral_id': rid})}\n\n"


@router.get("/cases/stream")
async def stream(hub: Hub) -> StreamingResponse:
    return StreamingResponse(_events(hub.broadcast), media_type="text/event-stream")
