"""Opens, at the hub's intake, the referral an unsolicited report starts.

The request is written to the connector's store in the same transaction as the report's return, and sent
from there, so neither an unreachable hub nor a restart loses it; it carries the report's referral id, so
the hub's referral and the agency's return meet at the broker.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, SecretStr

from jigsaw.bus.store import Store, Tx
from jigsaw.lifecycle import Component, wait_or_stop

log = logging.getLogger(__name__)
SCHEMA = "CREATE TABLE IF NOT EXISTS connector_intake (referral_id TEXT PRIMARY KEY, body TEXT NOT NULL);"


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
    def __init__(self, settings: IntakeSettings, store: Store) -> None:
        self._settings = settings
        self._store = store
        self._stopping = asyncio.Event()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def notify(self) -> None:
        self._wake.set()

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
            rows = self._store.conn.execute(
                "SELECT referral_id, body FROM connector_intake LIMIT 20"
            ).fetchall()
            delivered = [rid for rid, body in rows if await self._post(rid, json.loads(body))]
            for rid in delivered:
                self._store.conn.execute("DELETE FROM connector_intake WHERE referral_id = ?", (rid,))
            if rows and len(delivered) < len(rows):
                await wait_or_stop(self._stopping, self._settings.retry_s)
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 1.0)

    async def _post(self, referral_id: str, body: dict[str, Any]) -> bool:
        assert self._client is not None  # noqa: S101 - started before the task runs
        try:
            response = await self._client.post("/referrals", json=body)
        except httpx.HTTPError as exc:
            log.warning("intake unreachable (%s); the referral waits", type(exc).__name__)
            return False
        if response.status_code in (200, 201):
            log.info("intake opened %s", referral_id)
            return True
        # A refusal is kept and retried: it needs a person (a token, the hub's config), not a drop.
        log.error("intake refused a referral (%d); it waits in the connector's store", response.status_code)
        return False
