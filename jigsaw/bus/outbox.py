"""Publishes what a store's transactions put in its outbox, in order, then deletes it.

A crash after Kafka acknowledged a batch but before it was deleted re-sends that batch on restart: the
copies are exact (same msg_id, same bytes), and every consumer drops them by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka.errors import KafkaError

from jigsaw.bus.clients import Producer
from jigsaw.bus.store import OutboxRow, Store
from jigsaw.lifecycle import Component, require
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)


class OutboxPublisher(Component):
    def __init__(
        self,
        store: Store,
        producer: Producer,
        metrics: KernelMetrics,
        *,
        batch: int = 500,
        idle_s: float = 0.5,
        backoff_s: float = 0.5,
        drain_grace_s: float = 10.0,
    ) -> None:
        self._store = store
        self._producer = producer
        self._metrics = metrics
        self._batch = batch
        self._idle_s = idle_s
        self._backoff_s = backoff_s
        self._drain_grace_s = drain_grace_s
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """A transaction enqueued something: publish now rather than at the next idle tick."""
        self._wake.set()

    async def _start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox")

    async def _stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        task = require(self._task, "outbox task")
        done, _ = await asyncio.wait({task}, timeout=self._drain_grace_s)
        if not done:
            depth, _ = self._store.outbox_stats()
            log.warning(
                "outbox not drained within %.1fs; %d records wait for the next start",
                self._drain_grace_s,
                depth,
            )
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        backoff = self._backoff_s
        while True:
            rows = self._store.outbox_batch(self._batch)
            self._metrics.outbox(*self._store.outbox_stats())
            if not rows:
                if self._stopping.is_set():
                    return
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self._idle_s)
                continue
            sent = await self._send(rows)
            if sent:
                self._store.outbox_done(sent)
                self._metrics.outbox_published(len(sent))
            if len(sent) < len(rows):
                # Acknowledged rows are gone; only the rest is sent again, so a retry duplicates nothing
                # Kafka already holds. (Within a partition, the idempotent producer fails a batch's
                # successors with it, so what is left still goes out in order.)
                self._metrics.consume_error("outbox:send")
                log.warning(
                    "outbox: %d of %d records not acknowledged; retrying in %.1fs",
                    len(rows) - len(sent),
                    len(rows),
                    backoff,
                )
                # Not cut short by a stop: draining is the point of stopping gracefully, and _stop()
                # bounds the whole drain with its own grace period.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = self._backoff_s

    async def _send(self, rows: list[OutboxRow]) -> list[int]:
        """Send ``rows``; return the sequence numbers Kafka acknowledged."""
        futures = []
        for r in rows:
            try:
                futures.append(await self._producer.send(r.topic, r.value, r.key, r.headers, r.partition))
            except KafkaError:
                break
        results = await asyncio.gather(*futures, return_exceptions=True)
        return [r.seq for r, res in zip(rows, results, strict=False) if not isinstance(res, BaseException)]
