"""Opens, at the hub's intake, the referral an unsolicited report starts.

The request is written to the connector's store in the same transaction as the report's return, and sent
from there, oldest first, so neither an unreachable hub nor a restart loses it; it carries the report's
referral id, so the hub's referral and the agency's return meet at the broker.

A hub that cannot take referrals now (unreachable, 5xx, 429, a token it refuses, a wrong address) holds
the whole queue, in order, until it can. A referral the hub refuses as such (400, 409, 422: something
about this one referral) would be refused on every try, so it is parked in ``connector_intake_parked``,
kept for a person to look at, and the queue moves on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from jigsaw.bus.store import Store, Tx
from jigsaw.lifecycle import Component, wait_or_stop

if TYPE_CHECKING:
    from connectors.sdk.metrics import ConnectorMetrics

log = logging.getLogger(__name__)
SCHEMA = """
CREATE TABLE IF NOT EXISTS connector_intake (referral_id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS connector_intake_parked (
    referral_id TEXT PRIMARY KEY, body TEXT NOT NULL, status INTEGER NOT NULL, parked_at REAL NOT NULL
);
"""
_BATCH = 20
# Statuses that say the hub cannot take any referral now, or is not the hub at all, rather than that it
# refuses this one: every later referral would meet them too, so the queue waits, in order.
_HUB_UNAVAILABLE = frozenset({401, 403, 404, 405, 408, 429})


class IntakeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    token: SecretStr
    timeout_s: float = 10.0
    retry_s: float = 1.0


def queue_referral(tx: Tx, referral_id: str, referral: dict[str, Any]) -> None:
    body = {**referral, "referral_id": referral_id}
    tx.execute(
        "INSERT OR REPLACE INTO connector_intake VALUES (?, ?)", (referral_id, json.dumps(body, default=str))
    )


class IntakeForwarder(Component):
    def __init__(
        self, settings: IntakeSettings, store: Store, metrics: ConnectorMetrics | None = None
    ) -> None:
        self._settings = settings
        self._store = store
        self._metrics = metrics
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def notify(self) -> None:
        self._wake.set()

    def parked(self) -> int:
        """How many referrals the hub refused and are kept aside."""
        (n,) = self._store.conn.execute("SELECT count(*) FROM connector_intake_parked").fetchone()
        return int(n)

    async def _start(self) -> None:
        headers = {"Authorization": f"Bearer {self._settings.token.get_secret_value()}"}
        self._client = httpx.AsyncClient(
            base_url=self._settings.url, headers=headers, timeout=self._settings.timeout_s
        )
        self._task = asyncio.create_task(self._run(), name="intake-forwarder")

    async def _stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before reading the queue, so a referral queued meanwhile is not missed
            sent = await self._send_batch()
            if sent == "WAIT":
                await wait_or_stop(self._stopping, self._settings.retry_s)
            elif sent == "IDLE":
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _send_batch(self) -> Literal["MORE", "WAIT", "IDLE"]:
        """Send the oldest queued referrals. WAIT when the hub cannot take them now, IDLE when none wait."""
        rows = self._store.conn.execute(
            "SELECT referral_id, body FROM connector_intake ORDER BY rowid LIMIT ?", (_BATCH,)
        ).fetchall()
        for rid, body in rows:
            status = await self._post(rid, json.loads(body))
            if status is None or not (_opened(status) or _refused(status)):
                return "WAIT"  # the rest stay queued behind it, in order
            with self._store.transaction() as tx:
                if _refused(status):
                    self._park(tx, rid, body, status)
                tx.execute("DELETE FROM connector_intake WHERE referral_id = ?", (rid,))
        return "MORE" if rows else "IDLE"

    def _park(self, tx: Tx, referral_id: str, body: str, status: int) -> None:
        tx.execute(
            "INSERT OR REPLACE INTO connector_intake_parked VALUES (?, ?, ?, ?)",
            (referral_id, body, status, time.time()),
        )
        if self._metrics is not None:
            self._metrics.intake_parked.inc()
        # The id and status only: the body names the child.
        log.error(
            "intake refused referral %s (HTTP %d); parked in connector_intake_parked, the queue goes on",
            referral_id,
            status,
        )

    async def _post(self, referral_id: str, body: dict[str, Any]) -> int | None:
        """The hub's status, or None when it could not be reached."""
        assert self._client is not None  # noqa: S101 - started before the task runs
        try:
            response = await self._client.post("/referrals", json=body)
        except httpx.HTTPError as exc:
            log.warning("intake unreachable (%s); the referrals wait", type(exc).__name__)
            return None
        status = response.status_code
        if _opened(status):
            log.info("intake opened %s", referral_id)
        elif not _refused(status):
            log.warning("intake cannot take referrals (HTTP %d); they wait, in order", status)
        return status


def _opened(status: int) -> bool:
    return 200 <= status < 300


def _refused(status: int) -> bool:
    """The hub refuses this referral itself, and would refuse it on every try."""
    return 400 <= status < 500 and status not in _HUB_UNAVAILABLE
