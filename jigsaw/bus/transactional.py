"""Adapts a stateful handler to the consume loop: one local transaction per batch of records.

The handler is a plain function ``(record, tx) -> outcome``. It writes its state through ``tx``, checks
duplicates with ``tx.first_seen`` and enqueues what it must publish with ``tx.enqueue``. This adapter adds
the consumed offset to the same transaction, and turns a rejection into a dead letter in the outbox, so the
state, the offset, the outputs and the DLQ record all commit together or not at all.

The loop hands over a partition's records a batch at a time (``batch``), and the batch commits once: each
record runs inside a savepoint, so a rejected or retried one undoes only its own writes, and the offset
after the last record applied commits with them. A crash mid-batch loses the whole uncommitted batch and
its offset together, so the records are applied again from the start, never twice.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from jigsaw.bus.dlq import DeadLetterCodec, log_dead_letter
from jigsaw.bus.loop import outcome_for
from jigsaw.bus.records import COMMIT, DeadLetter, Outcome, Record, RetryLater
from jigsaw.bus.store import BaseStore, Tx
from jigsaw.errors import FatalError
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)

StatefulHandler = Callable[[Record, Tx], Outcome]


def _store_failed(exc: BaseException) -> RetryLater:
    # The type alone: a driver's message may quote the statement's values.
    log.warning("the store failed (%s); the record is tried again", type(exc).__name__)
    return RetryLater(f"the store failed: {type(exc).__name__}")


class _Rollback(Exception):
    pass


class TransactionalHandler:
    def __init__(
        self,
        store: BaseStore,
        handler: StatefulHandler,
        dead_letters: DeadLetterCodec,
        dlq_topic: str,
        metrics: KernelMetrics,
        on_enqueue: Callable[[], None] = lambda: None,
        room: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._store = store
        self._handler = handler
        self._dead_letters = dead_letters
        self._dlq_topic = dlq_topic
        self._metrics = metrics
        self._on_enqueue = on_enqueue
        self._room = room

    async def __call__(self, record: Record) -> Outcome:
        if self._room is not None:  # the outbox's backpressure (``OutboxPublisher.room``)
            await self._room()
        try:
            with self._store.transaction() as tx:
                tx.source = record.partition
                if self._done_before(tx, record):
                    return COMMIT
                outcome = self._apply(record, tx)
                if isinstance(outcome, RetryLater):
                    raise _Rollback
                if isinstance(outcome, DeadLetter):
                    self._enqueue_dead_letter(tx, record, outcome)
                tx.set_offset(record.topic, record.partition, record.offset + 1)
                enqueued = tx.enqueued
        except _Rollback:
            return outcome
        except self._store.transient as exc:
            return _store_failed(exc)
        if isinstance(outcome, DeadLetter):
            self._dead_lettered(record, outcome)
        if enqueued:
            self._on_enqueue()
        # The DLQ record is already durable in the outbox: to the loop this record is simply done.
        return COMMIT

    async def dead_letter(self, record: Record, letter: DeadLetter) -> Outcome:
        """Dead-letter ``record`` without handling it (the loop refused it on its sizes): the dead letter
        and the offset after it commit together, as a handler's own rejection would."""
        if self._room is not None:
            await self._room()
        try:
            with self._store.transaction() as tx:
                tx.source = record.partition
                if self._done_before(tx, record):
                    return COMMIT
                self._enqueue_dead_letter(tx, record, letter)
                tx.set_offset(record.topic, record.partition, record.offset + 1)
        except self._store.transient as exc:
            return _store_failed(exc)
        self._dead_lettered(record, letter)
        self._on_enqueue()
        return COMMIT

    async def batch(self, records: Sequence[Record]) -> list[Outcome]:
        """Apply ``records`` (one partition's, in offset order) in one transaction: see ``HandlesBatches``."""
        if self._room is not None:
            await self._room()
        outcomes: list[Outcome] = []
        lettered: list[tuple[Record, DeadLetter]] = []
        with self._store.transaction() as tx:
            offsets: dict[tuple[str, int], int] = {}
            moved: set[tuple[str, int]] = set()
            for record in records:
                tx.source = record.partition
                where = (record.topic, record.partition)
                if where not in offsets:
                    offsets[where] = tx.next_offset(*where)
                if record.offset < offsets[where]:
                    outcomes.append(COMMIT)  # applied, or dead-lettered, once already
                    continue
                outcome = self._apply(record, tx)
                if isinstance(outcome, RetryLater):
                    outcomes.append(outcome)
                    break
                if isinstance(outcome, DeadLetter):
                    self._enqueue_dead_letter(tx, record, outcome)
                    lettered.append((record, outcome))
                offsets[where] = record.offset + 1
                moved.add(where)
                outcomes.append(COMMIT)
            for where in moved:
                tx.set_offset(*where, offsets[where])
            enqueued = tx.enqueued
        for record, letter in lettered:
            self._dead_lettered(record, letter)
        if enqueued:
            self._on_enqueue()
        return outcomes

    @staticmethod
    def _done_before(tx: Tx, record: Record) -> bool:
        # The store, not Kafka's position, says what was applied: a record fetched again (a rebalance's
        # seek racing a fetch from the consumer's own reset) was applied, or dead-lettered, once already.
        return record.offset < tx.next_offset(record.topic, record.partition)

    def _enqueue_dead_letter(self, tx: Tx, record: Record, letter: DeadLetter) -> None:
        # The codec bounds what it copies and the key it is sent under, so this row can always publish.
        value = self._dead_letters.encode(record, letter.reason, letter.detail)
        tx.enqueue(self._dlq_topic, value, key=self._dead_letters.key(record))

    def _dead_lettered(self, record: Record, letter: DeadLetter) -> None:
        # Counted and logged once committed: a transaction that rolls back wrote no dead letter.
        self._metrics.dead_lettered(letter.reason)
        log_dead_letter(log, record, letter.reason)

    def _apply(self, record: Record, tx: Tx) -> Outcome:
        enqueued = tx.enqueued
        tx.execute("SAVEPOINT handler")
        try:
            outcome = self._handler(record, tx)
        except FatalError:
            raise
        except self._store.transient:
            raise  # the store failed, not the record: the whole transaction is tried again
        except Exception as exc:
            outcome = outcome_for(exc, record)
        if not isinstance(outcome, type(COMMIT)):
            # Whatever a rejected or retried record half-wrote must not commit with its offset.
            tx.execute("ROLLBACK TO handler")
            tx.enqueued = enqueued
        tx.execute("RELEASE handler")
        return outcome
