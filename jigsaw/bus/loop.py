"""The consume loop every service runs.

It survives broker errors (log, count, back off, go on), maps each typed handler outcome to a commit, a
paused retry or a dead letter, and on stop it stops fetching, lets in-flight work finish within the grace
period, commits what was done and exits. Bad input never ends the loop; only a ``FatalError`` does.

Before a handler sees a record, its key, value and headers are checked against the configured bounds
(``Bounds``): a record past them is dead-lettered as ``OVERSIZED`` on its sizes alone, through the
handler's store when it has one (``StoresDeadLetters``), else through the DLQ publisher.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError, TopicAuthorizationFailedError
from aiokafka.structs import TopicPartition

from jigsaw.bus.clients import AUTHORIZATION_REFUSED, Consumer, refused
from jigsaw.bus.dlq import DeadLetterPublisher
from jigsaw.bus.records import (
    Bounds,
    DeadLetter,
    HandlesBatches,
    Outcome,
    Record,
    RetryLater,
    StoresDeadLetters,
)
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import DeadLetterReason, FatalError, RejectedInput
from jigsaw.lifecycle import Component, close_quietly, require, wait_or_stop
from jigsaw.metrics import KernelMetrics

log = logging.getLogger(__name__)

Handler = Callable[[Record], Awaitable[Outcome]]
STOP_STEP_S = 10.0
STORE_COMMIT_EVERY_S = 1.0
# Lag is sampled on a clock, not only after a fetch: a consumer that is stuck fetches nothing, and its lag
# is exactly what must keep growing on the dashboard.
LAG_SAMPLE_S = 5.0
LAG_TIMEOUT_S = 5.0
Positions = Callable[[], dict[tuple[str, int], int]]


class PartitionListener(Protocol):
    """Told of each assignment before the loop reads the stored positions, and of each revocation once
    the partitions' last records are handled: the store claims and releases them here (fencing)."""

    def assigned(self, partitions: list[tuple[str, int]]) -> None: ...

    def revoked(self, partitions: list[tuple[str, int]]) -> None: ...


def outcome_for(exc: Exception, record: Record) -> Outcome:
    """The typed outcome of a handler that raised ``exc`` (never a ``FatalError``: that propagates)."""
    if isinstance(exc, RejectedInput):
        return DeadLetter(exc.reason, str(exc))
    if getattr(exc, "retriable", False):
        return RetryLater(str(exc))
    # An unexpected error is a bug, but the record may be fine: park it rather than lose it or crash-loop
    # on it. Only the exception type is recorded, since its text may quote the input.
    log.exception("handler failed on %s[%d]@%d", record.topic, record.partition, record.offset)
    return DeadLetter(DeadLetterReason.UNHANDLED, type(exc).__name__)


async def call_handler(handler: Handler, record: Record) -> Outcome:
    """Run a handler and turn what it raises into a typed outcome. ``FatalError`` propagates."""
    try:
        return await handler(record)
    except FatalError:
        raise
    except Exception as exc:
        return outcome_for(exc, record)


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, loop: ConsumeLoop) -> None:
        self._loop = loop

    async def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        await self._loop._on_revoked(revoked)

    async def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        await self._loop._on_assigned(assigned)


class ConsumeLoop(Component):
    """Consumes ``topics`` and hands each record to ``handler`` in partition order.

    ``positions``, when given, returns the offsets a store committed with its state; the loop seeks to
    them on assignment (and to the beginning where the store has none), so the store, not Kafka's
    committed offsets, decides where processing resumes.
    """

    def __init__(
        self,
        *,
        kafka: KafkaSettings,
        consumer: ConsumerSettings,
        topics: Sequence[str],
        handler: Handler,
        metrics: KernelMetrics,
        dlq: DeadLetterPublisher | None = None,
        positions: Positions | None = None,
        listeners: Sequence[PartitionListener] = (),
        stop: asyncio.Event | None = None,
        poll_ms: int = 200,
    ) -> None:
        self._settings = consumer
        self._kafka = kafka
        self._topics = list(topics)
        self._consumer = Consumer(kafka, consumer, topics, listener=_Listener(self))
        self._handler = handler
        self._bounds = Bounds.of(kafka, consumer)
        self._metrics = metrics
        self._dlq = dlq
        self._positions = positions
        self._listeners = list(listeners)
        self._failed: FatalError | None = None
        self.stopping = stop or asyncio.Event()
        self._poll_ms = poll_ms
        self._lock = asyncio.Lock()
        self._done: dict[TopicPartition, int] = {}
        self._paused: dict[TopicPartition, float] = {}
        self._retries: dict[TopicPartition, int] = {}
        self._task: asyncio.Task[None] | None = None
        self._commit_due = 0.0
        self._epoch = 0  # counts revocations: a batch fetched before one is not handled after it
        # The partitions this instance holds, by its own listener. aiokafka's assignment() still lists a
        # revoked partition until the next assignment arrives, and a store's claim on it is gone by then.
        self._owned: set[TopicPartition] = set()
        self.assigned = asyncio.Event()
        self._next: dict[TopicPartition, int] = {}  # the next offset to hand over, for lag
        self._fetch_error: str | None = None
        self._lag_task: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(), name="consume-loop")
        self._lag_task = asyncio.create_task(self._sample_lag(), name="consumer-lag")

    def not_ready(self) -> str | None:
        """A readiness check: the consumer has joined its group and been given its assignment, and
        fetching from Kafka works. Holding partitions now is not asked: every member gives all of them
        up during a rebalance, and a standby (more instances than partitions) holds none, while each can
        still serve what it serves."""
        if self._task is not None and self._task.done():
            return "the consume loop has ended"
        if self._fetch_error is not None:
            return f"fetching from Kafka failed ({self._fetch_error})"
        if not self.assigned.is_set():
            return "not assigned yet (joining the consumer group)"
        return None

    async def _sample_lag(self) -> None:
        while not await wait_or_stop(self.stopping, LAG_SAMPLE_S):
            owned = sorted(self._owned)
            if not owned:
                continue
            try:
                ends = await asyncio.wait_for(self._client.end_offsets(owned), LAG_TIMEOUT_S)
                for tp, end in ends.items():
                    at = self._next.get(tp)
                    if at is None:
                        at = await asyncio.wait_for(self._client.position(tp), LAG_TIMEOUT_S)
                    if tp in self._owned:
                        self._metrics.lag(tp.topic, tp.partition, max(0, end - at))
            except (KafkaError, TimeoutError) as exc:
                self._metrics.consume_error(type(exc).__name__)
            except Exception:  # a metric must never stop the service
                log.exception("sampling consumer lag failed")

    async def wait(self) -> None:
        """Return when the loop ends; raises what ended it (a ``FatalError``)."""
        self._check_started()
        await asyncio.shield(require(self._task, "consume task"))

    async def _stop(self) -> None:
        self.stopping.set()
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
        if self._task is not None:
            done, _ = await asyncio.wait({self._task}, timeout=self._settings.shutdown_grace_s)
            if not done:
                log.warning(
                    "in-flight work outlived the %.1fs grace period; cut short",
                    self._settings.shutdown_grace_s,
                )
                self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, FatalError):
                await self._task
        # With Kafka unreachable, a commit or a leave-group waits on a coordinator that is not coming: bound
        # both. Stored offsets (or, failing them, a redelivery to idempotent handlers) cover what is lost.
        with contextlib.suppress(KafkaError, TimeoutError):
            await asyncio.wait_for(self._commit(), STOP_STEP_S)
        await close_quietly(self._consumer.stop(), "the consumer", STOP_STEP_S)

    @property
    def _client(self) -> AIOKafkaConsumer:
        return require(self._consumer.client, "consumer")

    async def _run(self) -> None:
        try:
            await self._consume()
        except FatalError as exc:
            log.critical("the consume loop stops the service: %s", exc)
            raise
        except Exception as exc:
            # A bug in the loop itself: say so plainly, rather than let the task end with a stray error.
            log.critical("the consume loop failed (%s); the service stops", type(exc).__name__, exc_info=True)
            raise FatalError(f"the consume loop failed: {type(exc).__name__}") from exc

    async def _consume(self) -> None:
        while not self.stopping.is_set():
            if self._failed is not None:
                raise self._failed
            self._resume_due()
            try:
                batches = await self._client.getmany(
                    timeout_ms=self._poll_ms, max_records=self._settings.max_poll_records
                )
            except AUTHORIZATION_REFUSED as exc:
                self._metrics.consume_error(type(exc).__name__)
                doing = f"reading {', '.join(self._topics)} in group {self._settings.group_id}"
                raise refused(self._kafka, doing, exc) from exc
            except KafkaError as exc:
                self._metrics.consume_error(type(exc).__name__)
                self._fetch_error = type(exc).__name__
                log.warning("fetch failed (%s); backing off", type(exc).__name__)
                await wait_or_stop(self.stopping, self._settings.retry_backoff_s)
                continue
            self._fetch_error = None
            # A subscribed topic the principal may not even describe never raises: aiokafka logs it, leaves
            # it out of the assignment and fetches the rest, so the service would run on reading nothing.
            cluster = getattr(getattr(self._client, "_client", None), "cluster", None)
            denied = sorted(set(self._topics) & set(getattr(cluster, "unauthorized_topics", ())))
            if denied:
                self._metrics.consume_error("TopicAuthorizationFailedError")
                doing = f"reading {', '.join(denied)} in group {self._settings.group_id}"
                raise refused(self._kafka, doing, TopicAuthorizationFailedError(", ".join(denied)))
            # Taken as getmany returns: a revocation while an earlier partition of this fetch is handled
            # makes the rest of it stale too (the next assignment seeks back to the stored offsets).
            epoch = self._epoch
            for tp, messages in batches.items():
                await self._process_partition(tp, messages, epoch)
                if self.stopping.is_set():
                    break
            if self._positions is not None and time.monotonic() < self._commit_due:
                # The store's offsets decide where processing resumes; Kafka's are for lag monitoring
                # only, so they need not cost a round trip to the coordinator before every fetch.
                continue
            self._commit_due = time.monotonic() + STORE_COMMIT_EVERY_S
            try:
                await self._commit()
            except KafkaError as exc:
                self._metrics.consume_error(type(exc).__name__)
                log.warning("offset commit failed (%s); will retry", type(exc).__name__)

    async def _process_partition(self, tp: TopicPartition, messages: Sequence[object], epoch: int) -> None:
        # The loop yields between records, so a rebalance can revoke and re-assign this partition in the
        # middle of a batch; the new assignment seeks to the stored offset and fetches the rest again. What
        # is left of this batch (``epoch``: when it was fetched) is then stale: handling it too would
        # repeat records (and dead letters), or commit for a partition this instance no longer claims.
        records = [Record.from_consumer(msg) for msg in messages]
        handler: object = self._handler  # a callable that may also handle batches
        size = self._settings.batch_records if isinstance(handler, HandlesBatches) else 1
        i = 0
        while i < len(records):
            if self.stopping.is_set() or tp in self._paused:
                return
            async with self._lock:
                if tp not in self._owned or self._epoch != epoch:
                    return
                chunk = self._next_chunk(records, i, size)
                if isinstance(handler, HandlesBatches) and len(chunk) > 1:
                    handled = await self._handle_batch(tp, handler, chunk)
                else:
                    handled = await self._handle(tp, chunk[0])
                if not handled:
                    return
                i += len(chunk)
            # A stateful handler runs without awaiting anything, so a batch of hundreds would hold the event
            # loop for its whole length: the outbox could publish nothing until the batch ended, and under
            # load its backlog, and with it every record's latency, would grow without bound. Yield.
            await asyncio.sleep(0)
        high = self._client.highwater(tp)
        if high is not None and tp in self._next and tp in self._owned:
            self._metrics.lag(tp.topic, tp.partition, max(0, high - self._next[tp]))

    def _next_chunk(self, records: Sequence[Record], i: int, size: int) -> Sequence[Record]:
        """Up to ``size`` records from ``i``; a record past the bounds goes on its own, as a dead letter."""
        chunk = records[i : i + size]
        cut = next((j for j, r in enumerate(chunk) if self._bounds.violation(r) is not None), None)
        if cut is None:
            return chunk
        return chunk[: max(cut, 1)]

    async def _handle_batch(
        self, tp: TopicPartition, handler: HandlesBatches, chunk: Sequence[Record]
    ) -> bool:
        """Apply a batch in one go. Returns False when the partition must stop for now."""
        for record in chunk:
            self._metrics.consumed(record.topic)
        started = time.perf_counter()
        try:
            outcomes = await handler.batch(chunk)
        except FatalError:
            raise
        except Exception as exc:
            # The handler turns each record's own errors into outcomes, so this is the store failing (a
            # full disk, a locked file): nothing of the batch committed, so try it again later.
            log.exception("a batch on %s[%d]@%d failed", tp.topic, tp.partition, chunk[0].offset)
            outcomes = [RetryLater(f"the batch failed: {type(exc).__name__}")]
        elapsed = (time.perf_counter() - started) / max(len(outcomes), 1)
        for record, outcome in zip(chunk, outcomes, strict=False):
            self._metrics.handled(elapsed)
            if not await self._settle(tp, record, outcome):
                return False
        if len(outcomes) < len(chunk):  # not the contract, but nothing may be skipped: fetch the rest again
            self._client.seek(tp, chunk[len(outcomes)].offset)
            return False
        return True

    async def _handle(self, tp: TopicPartition, record: Record) -> bool:
        """Process one record. Returns False when the partition must stop for now."""
        self._metrics.consumed(record.topic)
        started = time.perf_counter()
        outcome = await self._outcome(record)
        self._metrics.handled(time.perf_counter() - started)
        return await self._settle(tp, record, outcome)

    async def _settle(self, tp: TopicPartition, record: Record, outcome: Outcome) -> bool:
        """Act on one record's outcome. Returns False when the partition must stop for now."""
        if isinstance(outcome, DeadLetter):
            outcome = await self._publish_dead_letter(record, outcome)
        self._metrics.outcome(type(outcome).__name__)
        if isinstance(outcome, RetryLater):
            self._retry(tp, record, outcome)
            return False
        self._done[tp] = self._next[tp] = record.offset + 1
        self._retries.pop(tp, None)
        return True

    async def _outcome(self, record: Record) -> Outcome:
        refused = self._bounds.violation(record)
        if refused is None:
            return await call_handler(self._handler, record)
        part, detail = refused
        self._metrics.oversized(record.topic, part)
        log.warning(
            "refused %s[%d]@%d before handling: %s", record.topic, record.partition, record.offset, detail
        )
        letter = DeadLetter(DeadLetterReason.OVERSIZED, detail)
        handler: object = self._handler  # a callable that may also be a StoresDeadLetters
        if isinstance(handler, StoresDeadLetters):
            return await handler.dead_letter(record, letter)
        return letter

    async def _publish_dead_letter(self, record: Record, letter: DeadLetter) -> Outcome:
        if self._dlq is None:
            raise FatalError(f"a record on {record.topic} was rejected and there is no DLQ")
        try:
            await self._dlq.publish(record, letter.reason, letter.detail)
        except KafkaError as exc:
            return RetryLater(f"DLQ publish failed: {type(exc).__name__}")
        return letter  # the publisher logged it

    def _retry(self, tp: TopicPartition, record: Record, outcome: RetryLater) -> None:
        n = self._retries.get(tp, 0)
        self._retries[tp] = n + 1
        delay = min(self._settings.retry_backoff_s * 2**n, self._settings.retry_backoff_max_s)
        log.info(
            "retrying %s[%d]@%d in %.2fs: %s",
            tp.topic,
            tp.partition,
            record.offset,
            delay,
            outcome.why,
        )
        self._client.seek(tp, record.offset)
        self._client.pause(tp)
        self._paused[tp] = time.monotonic() + delay

    def _resume_due(self) -> None:
        now = time.monotonic()
        for tp, at in list(self._paused.items()):
            if at <= now:
                del self._paused[tp]
                if tp in self._client.assignment():
                    self._client.resume(tp)

    async def _commit(self, only: Sequence[TopicPartition] | None = None) -> None:
        pending = {tp: off for tp, off in self._done.items() if only is None or tp in only}
        if not pending:
            return
        try:
            await self._client.commit(pending)
        except CommitFailedError:
            # The group moved on: the new owner re-reads from the last commit. Handlers are idempotent.
            self._metrics.consume_error("CommitFailedError")
            log.warning("commit failed after a rebalance; records may be redelivered")
        for tp, off in pending.items():
            if self._done.get(tp) == off:
                del self._done[tp]

    async def _on_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        async with self._lock:
            self._epoch += 1
            self._owned.difference_update(revoked)
            with contextlib.suppress(KafkaError):
                await self._commit(only=revoked)
            for tp in revoked:
                self._paused.pop(tp, None)
                self._retries.pop(tp, None)
                self._done.pop(tp, None)
                self._next.pop(tp, None)
                self._metrics.lag_gone(tp.topic, tp.partition)
            parts = [(tp.topic, tp.partition) for tp in revoked]
            for listener in reversed(self._listeners):
                try:
                    listener.revoked(parts)
                except Exception:  # the partitions are gone either way; the next owner recovers them
                    log.exception("a revocation listener failed on %d partition(s)", len(parts))

    async def _seek_to_stored(self, assigned: Sequence[TopicPartition]) -> None:
        if self._positions is None:
            return
        stored = self._positions()
        fresh = []
        for tp in assigned:
            offset = stored.get((tp.topic, tp.partition))
            if offset is None:
                fresh.append(tp)
            else:
                self._client.seek(tp, offset)
                self._next[tp] = offset
        if fresh:
            # One reset for all: each call waits for a fetcher round trip, and aiokafka sends no heartbeat
            # until this listener returns, so one call per partition could outlast the session timeout and
            # get a healthy instance evicted (and then fenced).
            await self._client.seek_to_beginning(*fresh)

    async def _on_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        async with self._lock:
            # A batch fetched before these seeks is stale: end it, as a revocation does.
            self._epoch += 1
            parts = [(tp.topic, tp.partition) for tp in assigned]
            try:
                for listener in self._listeners:
                    listener.assigned(parts)
                await self._seek_to_stored(assigned)
            except Exception as exc:
                # Unclaimed or unpositioned partitions must not be processed, and aiokafka would swallow
                # this: stop, and let a restart claim them afresh.
                log.critical("taking %d assigned partition(s) failed: %s", len(parts), type(exc).__name__)
                self._failed = FatalError(f"taking the assigned partitions failed: {type(exc).__name__}")
                self._client.pause(*assigned)
                return
            self._owned.update(assigned)
        self.assigned.set()
