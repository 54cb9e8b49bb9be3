"""What the routes share, as FastAPI dependencies over the one ``HubState`` kept on ``app.state``: the
caller's token and scopes, the case store's read connection, the intake, and the fan-out of case updates."""

from __future__ import annotations

import asyncio
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request

from jigsaw.bus.store import Conn
from jigsaw.workhours import WorkingHours
from services.hub.config import FRONT_DOOR_SCOPES, Scope, token_hash
from services.hub.intake import Intake
from services.hub.metrics import HubMetrics

# RFC 6750's b64token, bounded: anything else in the header is malformed, and a 401 rather than a 500.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]{1,512}=*")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_REMEMBERED = 100_000


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
class Caller:
    """Who a request's token says it is: the subscriber it reads for, what it may do, and the actor that is
    recorded on what it posts. ``key`` is the token's hash, which identifies it without holding it."""

    key: str
    subscriber: str
    actor: str
    scopes: frozenset[Scope]


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 64 * 1024
    max_streams_per_token: int = 4


@dataclass(frozen=True)
class HubState:
    """One subscriber's hub as its API sees it. ``tokens`` maps each token's SHA-256 to its caller;
    ``subscribers`` is the deployment's roster, of whom ``front_door`` may open and decide referrals."""

    subscriber: str
    tokens: Mapping[str, Caller]
    db: Conn
    intake: Intake | None
    broadcast: Broadcast
    subscribers: Sequence[str]
    front_door: str
    limits: Limits = Limits()
    metrics: HubMetrics | None = None
    # The working day the one-working-day decision clock of each view runs on.
    clock: WorkingHours = field(default_factory=WorkingHours)
    # Referrals this API opened, which the case store learns of only once the consumer reads them back.
    opened: OrderedDict[str, None] = field(default_factory=OrderedDict)
    streams: dict[str, int] = field(default_factory=dict)

    def remember(self, referral_id: str) -> None:
        self.opened[referral_id] = None
        while len(self.opened) > _REMEMBERED:
            self.opened.popitem(last=False)


def hub_state(request: Request) -> HubState:
    state: HubState = request.app.state.hub
    return state


Hub = Annotated[HubState, Depends(hub_state)]


def caller(hub: Hub, authorization: Annotated[str | None, Header()] = None) -> Caller:
    """The caller whose token the request carries, which must be one for the subscriber this hub serves."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not _TOKEN.fullmatch(token):
        raise HTTPException(401, "a bearer token is required (Authorization: Bearer <token>)", _CHALLENGE)
    # A dict lookup by hash: the hash of a guess says nothing about how near it is to a real token.
    who = hub.tokens.get(token_hash(token))
    if who is None:
        raise HTTPException(401, "the bearer token is not one this hub knows", _CHALLENGE)
    if who.subscriber != hub.subscriber:
        raise HTTPException(403, "this token belongs to another subscriber")
    return who


def scoped(scope: Scope) -> Callable[[HubState, Caller], Caller]:
    """A dependency admitting only a caller whose token has ``scope``; the front door's scopes also need
    this hub to be the front door's, whatever a token for another subscriber was configured with."""

    def check(hub: Hub, who: Annotated[Caller, Depends(caller)]) -> Caller:
        if scope not in who.scopes:
            raise HTTPException(403, f"this token does not have the {scope!r} scope")
        if scope in FRONT_DOOR_SCOPES and hub.subscriber != hub.front_door:
            raise HTTPException(403, f"only the front door ({hub.front_door}) may use the {scope!r} scope")
        return who

    return check


def reader(hub: Hub) -> Conn:
    return hub.db


def need_intake(hub: Hub) -> Intake:
    if hub.intake is None:
        raise HTTPException(503, "intake is not configured on this hub")
    return hub.intake


Db = Annotated[Conn, Depends(reader)]
IntakeDep = Annotated[Intake, Depends(need_intake)]
Reader = Annotated[Caller, Depends(scoped("read"))]
Opener = Annotated[Caller, Depends(scoped("intake"))]
Triager = Annotated[Caller, Depends(scoped("triage"))]
Reviewer = Annotated[Caller, Depends(scoped("review"))]
Consenter = Annotated[Caller, Depends(scoped("consent"))]
