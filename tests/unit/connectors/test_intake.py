"""The intake queue: a referral the hub refuses is parked and the queue moves on; a hub that cannot take
referrals keeps them all queued, in order, until it can."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from connectors.sdk.intake import SCHEMA, IntakeForwarder, IntakeSettings, queue_referral
from connectors.sdk.metrics import ConnectorMetrics
from jigsaw.bus.store import Store
from jigsaw.serving import free_port, serve

REFERRAL = {
    "subjects": [{"subject_ref": "S1", "role": "CHILD", "given_names": "Callum", "family_name": "Hartley"}],
    "concerns": ["NEGLECT"],
    "source_type": "POLICE",
}


class Hub:
    """The hub's POST /referrals on ``port``, answering with ``answer(body)``'s status."""

    def __init__(self, port: int, answer: Callable[[dict[str, Any]], int]) -> None:
        self.port = port
        self.received: list[str] = []

        async def referrals(request: Request) -> JSONResponse:
            body = await request.json()
            self.received.append(body["referral_id"])
            return JSONResponse({"referral_id": body["referral_id"]}, status_code=answer(body))

        self._app = Starlette(routes=[Route("/referrals", referrals, methods=["POST"])])

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Hub]:
        async with serve(self._app, "127.0.0.1", self.port, "hub") as served:
            assert served.port, "the hub did not start"
            yield self


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "connector.sqlite", SCHEMA)
    s.open()
    return s


def queue(store: Store, referral_ids: list[str], summary: str) -> None:
    with store.transaction() as tx:
        for rid in referral_ids:
            queue_referral(tx, rid, {**REFERRAL, "summary": summary})


def queued(store: Store) -> list[str]:
    return [rid for (rid,) in store.conn.execute("SELECT referral_id FROM connector_intake ORDER BY rowid")]


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_refused_referrals_are_parked_and_the_next_one_still_reaches_the_hub(store: Store) -> None:
    port = free_port()
    refused = [f"R-BAD-{n:02d}" for n in range(25)]
    queue(store, refused, "refuse")
    queue(store, ["R-GOOD"], "a real concern")
    prom = CollectorRegistry()
    hub = Hub(port, lambda body: 422 if body["summary"] == "refuse" else 201)
    settings = IntakeSettings(url=f"http://127.0.0.1:{port}", token=SecretStr("t"), retry_s=0.05)

    async with hub.running(), IntakeForwarder(settings, store, ConnectorMetrics(prom)) as forwarder:
        forwarder.notify()
        await until(lambda: "R-GOOD" in hub.received, "the good referral at the hub")
        await until(lambda: queued(store) == [], "the queue to empty")

    assert hub.received == [*refused, "R-GOOD"], "each referral posted once, oldest first"
    assert forwarder.parked() == 25
    parked = store.conn.execute("SELECT referral_id, status FROM connector_intake_parked ORDER BY rowid")
    assert list(parked) == [(rid, 422) for rid in refused]
    assert prom.get_sample_value("jigsaw_connector_intake_parked_total") == 25


@pytest.mark.parametrize("status", [None, 503, 401])
async def test_a_hub_that_cannot_take_referrals_keeps_them_all_queued_in_order(
    store: Store, status: int | None
) -> None:
    port = free_port()
    ids = ["R-1", "R-2", "R-3"]
    queue(store, ids, "a real concern")
    down = True
    hub = Hub(port, lambda body: (status or 201) if down else 201)
    settings = IntakeSettings(url=f"http://127.0.0.1:{port}", token=SecretStr("t"), retry_s=0.05)

    async with IntakeForwarder(settings, store) as forwarder:
        if status is None:  # not even listening
            await asyncio.sleep(0.3)
            async with hub.running():
                await until(lambda: queued(store) == [], "the queue to empty")
        else:
            async with hub.running():
                await until(lambda: len(hub.received) >= 3, "a few refused tries")
                assert queued(store) == ids, "nothing dropped, nothing reordered"
                assert set(hub.received) == {"R-1"}, "nothing later is sent past the first"
                down = False
                await until(lambda: queued(store) == [], "the queue to empty")

    assert hub.received[-3:] == ids, "delivered in the order reported"
    assert forwarder.parked() == 0
