"""Adapts a stateful handler to the consume loop: one local transaction per record.

The handler is a plain function ``(record, tx) -> outcome``. It writes its state through ``tx``, checks
duplicates with ``tx.first_seen`` and enqueues what it must publish with ``tx.enqueue``. This adapter adds
the consumed offset to the same transaction, and turns a rejection into a dead letter in the outbox, so the
state, the offset, the outputs and the DLQ record all commit together or not at all.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.loop import outcome_for
from jigsaw.bus.records import COMMIT, DeadLetter, Outcome, Record, RetryLater
from jigsaw.bus.store import Store, Tx
from jigsaw.errors import FatalError
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)

StatefulHandler = Callable[[Record, Tx], Outcome]


class _Rollback(Exception):
    pass


class TransactionalHandler:
    def __init__(
        self,
        store: Store,
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
        if enqueued:
            self._on_enqueue()
        # The DLQ record is already durable in the outbox: to the loop this record is simply done.
        return COMMIT

    async def dead_letter(self, record: Record, letter: DeadLetter) -> Outcome:
        """Dead-letter ``record`` without handling it (the loop refused it on its sizes): the dead letter
        and the offset after it commit together, as a handler's own rejection would."""
        if self._room is not None:
            await self._room()
        with self._store.transaction() as tx:
            if self._done_before(tx, record):
                return COMMIT
            self._enqueue_dead_letter(tx, record, letter)
            tx.set_offset(record.topic, record.partition, record.offset + 1)
        self._on_enqueue()
        return COMMIT

    @staticmethod
    def _done_before(tx: Tx, record: Record) -> bool:
        # The store, not Kafka's position, says what was applied: a record fetched again (a rebalance's
        # seek racing a fetch from the consumer's own reset) was applied, or dead-lettered, once already.
        return record.offset < tx.next_offset(record.topic, record.partition)

    def _enqueue_dead_letter(self, tx: Tx, record: Record, letter: DeadLetter) -> None:
        # The codec bounds what it copies and the key it is sent under, so this row can always publish.
        value = self._dead_letters.encode(record, letter.reason, letter.detail)
        tx.enqueue(self._dlq_topic, value, key=self._dead_letters.key(record))
        self._metrics.dead_lettered(letter.reason)

    def _apply(self, record: Record, tx: Tx) -> Outcome:
        tx.execute("SAVEPOINT handler")
        try:
            outcome = self._handler(record, tx)
        except FatalError:
            raise
        except Exception as exc:
            outcome = outcome_for(exc, record)
        if not isinstance(outcome, type(COMMIT)):
            # Whatever a rejected or retried record half-wrote must not commit with its offset.
            tx.execute("ROLLBACK TO handler")
            tx.enqueued = 0
        tx.execute("RELEASE handler")
        return outcome
