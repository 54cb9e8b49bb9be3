"""Publishes what a store's transactions put in its outbox, in order, then deletes it.

A crash after Kafka acknowledged a batch but before it was deleted re-sends that batch on restart: the
copies are exact (same msg_id, same bytes), and every consumer drops them by id.

No one row can wedge it. A row Kafka refuses for good (too large, a topic name that is not legal, a
partition its topic does not have) is parked: moved, in one transaction, to ``kernel_outbox_parked`` with
the error's name, counted and logged, and the rows behind it go on. The publishing task is supervised
(``jigsaw.lifecycle.supervise``): an unexpected error restarts it with backoff, and once it fails for good
``room``, ``notify`` and ``wait`` raise a ``FatalError``, so the service stops rather than run on with
nothing published and its backpressure silently off.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from aiokafka.errors import (
    InvalidTopicError,
    KafkaError,
    MessageSizeTooLargeError,
    OutOfOrderSequenceNumber,
    RecordListTooLargeError,
    RecordTooLargeError,
)

from jigsaw.bus.clients import AUTHORIZATION_REFUSED, Producer, RefusedRecord, refused
from jigsaw.bus.store import BaseStore, OutboxRow
from jigsaw.errors import FatalError
from jigsaw.lifecycle import Component, require, supervise
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)
STATS_EVERY_S = 1.0
STUCK_WARN_S = 30.0
TASK = "outbox"

# Errors that sending the same bytes again can never cure. Anything else (Kafka down, a leader moving, a
# topic not yet created, an ACL not yet granted) is retried with backoff, and the row keeps its place.
REFUSED_FOR_GOOD: tuple[type[Exception], ...] = (
    RefusedRecord,
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    InvalidTopicError,
)

PARKED_SCHEMA = """CREATE TABLE IF NOT EXISTS kernel_outbox_parked (
    seq INTEGER PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER, key BLOB, value BLOB NOT NULL,
    headers BLOB NOT NULL, enqueued_at REAL NOT NULL, parked_at REAL NOT NULL, error TEXT NOT NULL
)"""


@dataclass(frozen=True)
class ParkedRow:
    seq: int
    topic: str
    partition: int | None
    key_bytes: int
    value_bytes: int
    error: str
    parked_at: float


def parked(store: BaseStore) -> list[ParkedRow]:
    """The rows Kafka refused for good, oldest first (their bytes stay in the table, for re-driving)."""
    store.conn.execute(PARKED_SCHEMA)
    rows = store.conn.execute(
        "SELECT seq, topic, partition, length(key), length(value), error, parked_at"
        " FROM kernel_outbox_parked ORDER BY seq"
    )
    return [ParkedRow(s, t, p, k or 0, v, e, at) for s, t, p, k, v, e, at in rows]


class OutboxPublisher(Component):
    def __init__(
        self,
        store: BaseStore,
        producer: Producer,
        metrics: KernelMetrics,
        *,
        batch: int = 500,
        idle_s: float = 0.5,
        backoff_s: float = 0.5,
        drain_grace_s: float = 10.0,
        high_water: int = 2000,
        give_up_after: int = 5,
    ) -> None:
        self._store = store
        self._producer = producer
        self._metrics = metrics
        self._batch = batch
        self._idle_s = idle_s
        self._backoff_s = backoff_s
        self._drain_grace_s = drain_grace_s
        self._high_water = high_water
        self._give_up_after = give_up_after
        self._published = asyncio.Event()
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._failure: str | None = None
        # Rows up to this number go one at a time: Kafka refused a batch that holds one of them for good,
        # and only a row sent alone shows which one it was.
        self._solo_until: int | None = None
        # A broker's refusal leaves the idempotent producer's sequence for that partition broken (see
        # ``Producer.reset``): the next round starts with a fresh producer.
        self._reset_due = False
        self._last_error = ""  # the type of the last send failure, for the retry warning

    def _raise_if_failed(self) -> None:
        if self._failure is not None:
            raise FatalError(f"the outbox publisher has failed: {self._failure}")
        task = self._task
        if task is not None and task.done() and not self._stopping.is_set():
            raise FatalError("the outbox publisher ended without being stopped")

    def notify(self) -> None:
        """A transaction enqueued something: publish now rather than at the next idle tick.

        Raises ``FatalError`` once the publisher has failed for good: what was just enqueued would never
        go out, and the caller's service must stop rather than go on as if it would.
        """
        self._raise_if_failed()
        self._wake.set()

    async def room(self) -> None:
        """Wait while more than ``high_water`` records wait to be published.

        A consumer that writes to the outbox awaits this before each record. Its handlers hold the event
        loop while they run, so without it the consumer outruns the publisher whenever records arrive
        faster than they can be handled, and the backlog (the latency of everything behind it) grows
        without bound; with it the backlog stays bounded and the input waits in Kafka instead. Raises
        ``FatalError`` if the publisher has failed for good, before waiting or while it waits.
        """
        require(self._task, "outbox task")
        since = time.monotonic()
        warned = since
        while True:
            self._raise_if_failed()
            if self._stopping.is_set() or self._store.outbox_span() <= self._high_water:
                return
            if time.monotonic() - warned >= STUCK_WARN_S:
                # Kafka unreachable stops the input too: say so, or it looks like idleness.
                warned = time.monotonic()
                log.warning("input paused %.0f s: the outbox is not draining", warned - since)
            self._wake.set()
            self._published.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._published.wait(), self._idle_s)

    async def wait(self) -> None:
        """Return when the publisher ends after a stop; raise ``FatalError`` if it failed for good."""
        self._check_started()
        await asyncio.shield(require(self._task, "outbox task"))

    async def _start(self) -> None:
        self._store.conn.execute(PARKED_SCHEMA)
        self._metrics.task_up(TASK, True)
        self._task = asyncio.create_task(self._supervised(), name="outbox")

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
        # A failure was logged when it happened, and wait() is how it reaches the service.
        with contextlib.suppress(asyncio.CancelledError, FatalError):
            await task

    async def _supervised(self) -> None:
        try:
            await supervise(
                TASK,
                self._run,
                stop=self._stopping,
                on_restart=lambda: self._metrics.task_restarted(TASK),
                backoff_s=self._backoff_s,
                give_up_after=self._give_up_after,
            )
        except FatalError as exc:
            self._failure = str(exc)
            self._metrics.task_up(TASK, False)
            self._published.set()  # wake room()'s waiters, so they see the failure now
            raise

    def _next_rows(self) -> list[OutboxRow]:
        if self._solo_until is not None:
            rows = self._store.outbox_batch(1)
            if rows and rows[0].seq <= self._solo_until:
                return rows
            self._solo_until = None
        return self._store.outbox_batch(self._batch)

    async def _run(self) -> None:
        backoff = self._backoff_s
        stats_due = 0.0
        while True:
            if self._reset_due:
                await self._producer.reset()
                self._reset_due = False
            rows = self._next_rows()
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
            sent, settled = await self._send(rows)
            if sent:
                self._store.outbox_done(sent)
                self._metrics.outbox_published(len(sent))
            if settled:
                self._published.set()
            if len(settled) < len(rows):
                # Acknowledged rows are gone; only the rest is sent again, so a retry duplicates nothing
                # Kafka already holds. (Within a partition, the idempotent producer fails a batch's
                # successors with it, so what is left still goes out in order.)
                self._metrics.consume_error("outbox:send")
                log.warning(
                    "outbox: %d of %d records not acknowledged (%s); retrying in %.1fs",
                    len(rows) - len(settled),
                    len(rows),
                    self._last_error,
                    backoff,
                )
                # Not cut short by a stop: draining is the point of stopping gracefully, and _stop()
                # bounds the whole drain with its own grace period.
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = self._backoff_s

    async def _send(self, rows: list[OutboxRow]) -> tuple[list[int], set[int]]:
        """Send ``rows``. Returns the numbers Kafka acknowledged, and those it acknowledged or parked."""
        pending: list[tuple[OutboxRow, asyncio.Future[object]]] = []
        settled: set[int] = set()
        for r in rows:
            try:
                pending.append(
                    (r, await self._producer.send(r.topic, r.value, r.key, r.headers, r.partition))
                )
            except REFUSED_FOR_GOOD as exc:  # refused before it left: this row alone, so park it
                self._park(r, exc)
                settled.add(r.seq)
            except AUTHORIZATION_REFUSED as exc:
                raise self._refused(r, exc) from exc
            except KafkaError as exc:
                self._last_error = type(exc).__name__
                break
        results = await asyncio.gather(*(fut for _, fut in pending), return_exceptions=True)
        sent: list[int] = []
        for (r, _), result in zip(pending, results, strict=True):
            if not isinstance(result, BaseException):
                sent.append(r.seq)
                continue
            if isinstance(result, AUTHORIZATION_REFUSED):
                raise self._refused(r, result) from result
            self._last_error = type(result).__name__
            self._reset_due |= isinstance(result, (*REFUSED_FOR_GOOD, OutOfOrderSequenceNumber))
            if isinstance(result, REFUSED_FOR_GOOD):
                if len(rows) == 1:
                    self._park(r, result)
                    settled.add(r.seq)
                else:
                    # Kafka fails a whole partition batch with one bad record in it: find which, alone.
                    self._solo_until = max(self._solo_until or 0, r.seq)
        return sent, settled | set(sent)

    def _refused(self, row: OutboxRow, exc: BaseException) -> FatalError:
        # Not this record's fault, and not one that parking fixes: every later record to the topic would be
        # refused too. Stop loudly; the rows stay in the outbox for when the ACLs are put right.
        err = refused(self._producer.settings, f"writing to {row.topic}", exc)
        log.critical("outbox: %s", err)
        return err

    def _park(self, row: OutboxRow, exc: Exception) -> None:
        error = type(exc).__name__
        with self._store.transaction() as tx:
            tx.execute(
                "INSERT INTO kernel_outbox_parked SELECT seq, topic, partition, key, value, headers,"
                " enqueued_at, ?, ? FROM kernel_outbox WHERE seq = ?",
                (time.time(), error, row.seq),
            )
            tx.execute("DELETE FROM kernel_outbox WHERE seq = ?", (row.seq,))
        self._metrics.outbox_parked(error)
        # Sizes, never content: the row is a sealed envelope or a dead letter, and its key a referral id.
        log.error(
            "outbox: parked record %d for %.200s, which Kafka refuses for good (%s; key %d, value %d bytes)",
            row.seq,
            row.topic,
            error,
            len(row.key or b""),
            len(row.value),
        )
