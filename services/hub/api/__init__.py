"""The HTTP API for hub systems: list, get and follow cases; open referrals and post decisions.

Every request carries a bearer token, configured as its SHA-256 with a subscriber, scopes and a name; this
process serves one subscriber's views, so a caller never sees another subscriber's, and may do only what
its token's scopes allow (docs/api.md). Errors are RFC 9457 ``application/problem+json``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping, Sequence

from fastapi import APIRouter, Depends, FastAPI

from jigsaw.bus.store import Conn
from jigsaw.workhours import WorkingHours
from services.hub.api import cases, errors, stream, writes
from services.hub.api.deps import Broadcast, Caller, Hub, HubState, Limits, caller
from services.hub.api.limits import BodyLimit
from services.hub.config import ApiToken
from services.hub.intake import Intake
from services.hub.metrics import HubMetrics

__all__ = ["Broadcast", "Limits", "create_app"]
_open = APIRouter()
_LIMITS = Limits()


@_open.get("/health")
async def health(hub: Hub) -> dict[str, str]:
    return {"status": "ok", "subscriber": hub.subscriber}


def _callers(tokens: Mapping[str, ApiToken]) -> dict[str, Caller]:
    return {
        t.sha256: Caller(key=t.sha256, subscriber=t.subscriber, actor=t.name or label, scopes=t.scopes)
        for label, t in tokens.items()
    }


def _watch(metrics: HubMetrics, db: Conn) -> None:
    """The gauges are read from the API's connection, on the loop that serves the API."""
    # Built outside a loop (a test), the gauges are left to whoever calls refresh_gauges.
    with contextlib.suppress(RuntimeError):
        metrics.watch(db, asyncio.get_running_loop())


def create_app(
    *,
    subscriber: str,
    tokens: Mapping[str, ApiToken],
    db: Conn,
    intake: Intake | None,
    broadcast: Broadcast,
    subscribers: Sequence[str],
    front_door: str | None = None,
    limits: Limits = _LIMITS,
    metrics: HubMetrics | None = None,
    clock: WorkingHours | None = None,
) -> FastAPI:
    """``tokens`` is the configured tokens by label. ``db`` is a read connection to the case store.
    ``subscribers`` is the deployment's roster, whose first is the front door unless ``front_door`` says.
    The agency types a referral may name are the intake's, which it has from the deployment's roster."""
    app = FastAPI(title="Jigsaw hub API", version="1", summary=f"Case views for subscriber {subscriber}")
    door = front_door or (subscribers[0] if subscribers else subscriber)
    app.state.hub = HubState(
        subscriber,
        _callers(tokens),
        db,
        intake,
        broadcast,
        tuple(subscribers),
        door,
        limits,
        metrics,
        clock=clock or WorkingHours(),
    )
    errors.install(app)
    app.add_middleware(BodyLimit, limit=limits.max_body_bytes)
    app.add_middleware(errors.Counted)  # added last, so outermost: it sees BodyLimit's 413s
    if metrics is not None:
        _watch(metrics, db)
    app.include_router(_open)

    api = APIRouter(dependencies=[Depends(caller)], responses=errors.PROBLEMS)
    # /cases/stream before /cases/{referral_id}, which would otherwise take "stream" for a referral id.
    routers = (stream.router, cases.router, writes.router)
    for routes in routers:
        api.include_router(routes)
    app.include_router(api)
    app.state.templates = errors.Templates(
        [str(getattr(r, "path", "")) for router in (_open, *routers) for r in router.routes]
    )
    return app
