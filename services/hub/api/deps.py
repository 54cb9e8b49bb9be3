"""What the routes share, as FastAPI dependencies over the one ``HubState`` kept on ``app.state``: the
caller's authorisation, the case store's read connection, the intake, and the fan-out of case updates."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from services.hub.intake import Intake


class Broadcast:
    """Fan-out of case updates to live-stream clients; a slow client loses old events, never blocks."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[str]] = set()

    def publish(self, referral_id: str) -> None:
        for q in self._queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(referral_id)

    async def follow(self) -> AsyncIterator[str]:
        q: asyncio.Queue[str] = asyncio.Queue(maxsize=1000)
        self._queues.add(q)
        try:
            while True:
                yield await q.get()
        finally:
            self._queues.discard(q)


@dataclass(frozen=True)
class HubState:
    """One subscriber's hub as its API sees it. ``tokens`` maps each bearer token to its subscriber."""

    subscriber: str
    tokens: Mapping[str, str]
    db: sqlite3.Connection
    intake: Intake | None
    broadcast: Broadcast


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


Hub = Annotated[HubState, Depends(hub_state)]


def caller(hub: Hub, authorization: Annotated[str | None, Header()] = None) -> str:
    """The subscriber whose token the request carries, who must be the one this hub serves."""
    scheme, _, token = (authorization or "").partition(" ")
    # Compared as bytes: compare_digest refuses a str with non-ASCII characters, which a header may hold.
    given = token.encode()
    owner = next((s for t, s in hub.tokens.items() if secrets.compare_digest(t.encode(), given)), None)
    if scheme.lower() != "bearer" or owner is None:
        raise HTTPException(401, "a valid bearer token is required")
    if owner != hub.subscriber:
        raise HTTPException(403, "this token belongs to another subscriber")
    return owner


def reader(hub: Hub) -> sqlite3.Connection:
    return hub.db


def need_intake(hub: Hub) -> Intake:
    if hub.intake is None:
        raise HTTPException(503, "intake is not configured on this hub")
    return hub.intake


Db = Annotated[sqlite3.Connection, Depends(reader)]
IntakeDep = Annotated[Intake, Depends(need_intake)]
