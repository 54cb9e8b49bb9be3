"""Publishes what a store's transactions put in its outbox, in order, then deletes it.

A crash after Kafka acknowledged a batch but before it was deleted re-sends that batch on restart: the
copies are exact (same msg_id, same bytes), and every consumer drops them by id.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka.errors import KafkaError

from jigsaw.bus.clients import Producer
from jigsaw.bus.store import OutboxRow, Store
from jigsaw.lifecycle import Component, require
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)
STATS_EVERY_S = 1.0
STUCK_WARN_S = 30.0


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
        high_water: int = 2000,
    ) -> None:
        self._store = store
        self._producer = producer
        self._metrics = metrics
        self._batch = batch
        self._idle_s = idle_s
        self._backoff_s = backoff_s
        self._drain_grace_s = drain_grace_s
        self._high_water = high_water
        self._published = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def notify(self) -> None:
        """A transaction enqueued something: publish now rather than at the next idle tick."""
        self._wake.set()

    async def room(self) -> None:
        """Wait while more than ``high_water`` records wait to be published.

        A consumer that writes to the outbox awaits this before each record. Its handlers hold the event
        loop while they run, so without it the consumer outruns the publisher whenever records arrive
        faster than they can be handled, and the backlog (the latency of everything behind it) grows
        without bound; with it the backlog stays bounded and the input waits in Kafka instead.
        """
        since = time.monotonic()
        warned = since
        while (
            self._store.outbox_span() > self._high_water
            and not self._stopping.is_set()
            and self._task is not None
            and not self._task.done()
        ):
            if time.monotonic() - warned >= STUCK_WARN_S:
                # Kafka refusing a row for good stops the input too: say so, or it looks like idleness.
                warned = time.monotonic()
                log.warning("input paused %.0f s: the outbox is not draining", warned - since)
            self._wake.set()
            self._published.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._published.wait(), self._idle_s)

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
        stats_due = 0.0
        while True:
            rows = self._store.outbox_batch(self._batch)
            if time.monotonic() >= stats_due:
                # Counting the outbox reads all of it; under load, once a second is plenty for a gauge.
                self._metrics.outbox(*self._store.outbox_stats())
                stats_due = time.monotonic() + STATS_EVERY_S
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
                self._published.set()
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
