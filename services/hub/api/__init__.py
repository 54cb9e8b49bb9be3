"""The HTTP API for hub systems: list, get and follow cases; open referrals and post decisions.

Every request carries a bearer token from config; a token belongs to one subscriber, and this process
serves one subscriber's views, so a caller never sees another subscriber's. Errors are RFC 9457
``application/problem+json``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping

from fastapi import APIRouter, Depends, FastAPI

from services.hub.api import cases, errors, stream, writes
from services.hub.api.deps import Broadcast, Hub, HubState, caller
from services.hub.intake import Intake

__all__ = ["Broadcast", "create_app"]
_open = APIRouter()


@_open.get("/health")
async def health(hub: Hub) -> dict[str, str]:
    return {"status": "ok", "subscriber": hub.subscriber}


def create_app(
    *,
    subscriber: str,
    tokens: Mapping[str, str],
    db: sqlite3.Connection,
    intake: Intake | None,
    broadcast: Broadcast,
) -> FastAPI:
    """``tokens`` maps each bearer token to its subscriber. ``db`` is a read connection to the case store.
    The agency types a referral may name are the intake's, which it has from the deployment's roster."""
    app = FastAPI(title="Jigsaw hub API", version="1", summary=f"Case views for subscriber {subscriber}")
    app.state.hub = HubState(subscriber, dict(tokens), db, intake, broadcast)
    errors.install(app)
    app.include_router(_open)

    api = APIRouter(dependencies=[Depends(caller)], responses=errors.PROBLEMS)
    # /cases/stream before /cases/{referral_id}, which would otherwise take "stream" for a referral id.
    for routes in (stream.router, cases.router, writes.router):
        api.include_router(routes)
    app.include_router(api)
    return app
