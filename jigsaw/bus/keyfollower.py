"""Loads the key directory from ``jigsaw.keys.v1`` and keeps following it.

Every participant runs one. ``loaded`` is set once the topic has been read to the end it had at start-up, so a
service can wait for the directory before it seals or opens anything. A record that fails verification is
dead-lettered (when a publisher is given) and counted, never applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from aiokafka.structs import TopicPartition

from jigsaw.bus.clients import AUTHORIZATION_REFUSED, refused
from jigsaw.bus.dlq import DeadLetterPublisher, log_dead_letter
from jigsaw.bus.reader import partitions
from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings
from jigsaw.errors import ConfigError, FatalError, RejectedInput, TransientError
from jigsaw.lifecycle import Component, close_quietly, require, supervise, wait_or_stop
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.directory import KeyDirectory

log = logging.getLogger(__name__)
_TASK = "key-directory"


class KeyDirectoryFollower(Component):
    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        directory: KeyDirectory,
        metrics: KernelMetrics,
        dlq: DeadLetterPublisher | None = None,
    ) -> None:
        self._kafka = kafka
        self._topic = topic
        self.directory = directory
        self._metrics = metrics
        self._dlq = dlq
        self.loaded = asyncio.Event()
        self._stopping = asyncio.Event()
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None
        self._applied: dict[TopicPartition, int] = {}

    async def _start(self) -> None:
        try:
            found = await partitions(self._kafka, self._topic)
        except (KafkaError, ConfigError) as exc:
            who = self._kafka.principal() or "this client"
            raise TransientError(
                f"the key directory topic {self._topic} is not available to {who}"
                f" (missing, or not granted): {exc}"
            ) from exc
        self._consumer = AIOKafkaConsumer(
            **self._kafka.client_kwargs(), enable_auto_commit=False, isolation_level="read_committed"
        )
        await self._consumer.start()
        tps = [TopicPartition(self._topic, p) for p in found]
        self._consumer.assign(tps)
        await self._consumer.seek_to_beginning(*tps)
        ends = await self._consumer.end_offsets(tps)
        self._metrics.task_up(_TASK, True)
        self._task = asyncio.create_task(self._supervised(ends), name=_TASK)

    async def _supervised(self, ends: dict[TopicPartition, int]) -> None:
        # A follower that dies silently leaves the directory frozen: revocations would stop arriving.
        try:
            await supervise(
                _TASK,
                lambda: self._run(ends),
                stop=self._stopping,
                on_restart=lambda: self._metrics.task_restarted(_TASK),
            )
        except FatalError:
            self._metrics.task_up(_TASK, False)
            raise

    async def wait(self) -> None:
        """Return when the follower ends after a stop; raise ``FatalError`` if it failed for good."""
        await asyncio.shield(require(self._task, "key directory task"))

    def not_ready(self) -> str | None:
        """A readiness check: the directory has been read to the end it had at start-up."""
        if self._task is not None and self._task.done():
            return "the key directory follower has ended"
        return None if self.loaded.is_set() else "the key directory is still loading"

    async def wait_loaded(self, timeout_s: float = 30.0) -> None:
        try:
            await asyncio.wait_for(self.loaded.wait(), timeout_s)
        except TimeoutError:
            raise TransientError(f"the key directory did not load within {timeout_s:.0f}s") from None

    async def _run(self, ends: dict[TopicPartition, int]) -> None:
        consumer = require(self._consumer, "key directory consumer")
        # A restart resumes after the last record applied: the rest of the batch that failed was fetched
        # but never applied, and the consumer's position has already passed it.
        for tp in ends:
            if tp in self._applied:
                consumer.seek(tp, self._applied[tp])
            else:
                await consumer.seek_to_beginning(tp)
        pending = {tp for tp, end in ends.items() if end > 0}
        if not pending:
            self.loaded.set()
        while not self._stopping.is_set():
            try:
                batch = await consumer.getmany(timeout_ms=500)
                for msgs in batch.values():
                    for msg in msgs:
                        await self._apply(Record.from_consumer(msg))
                        self._applied[TopicPartition(msg.topic, msg.partition)] = msg.offset + 1
                for tp in list(pending):
                    if await consumer.position(tp) >= ends[tp]:
                        pending.discard(tp)
            except AUTHORIZATION_REFUSED as exc:
                raise refused(self._kafka, f"reading {self._topic}", exc) from exc
            except KafkaError as exc:
                self._metrics.consume_error(type(exc).__name__)
                await wait_or_stop(self._stopping, 1.0)
                continue
            if not pending and not self.loaded.is_set():
                log.info("key directory loaded: %d participants", len(self.directory.participants()))
                self.loaded.set()

    async def _apply(self, record: Record) -> None:
        self._metrics.consumed(record.topic)
        if record.value is None:
            return  # a tombstone: compaction's deletion marker, nothing to apply
        try:
            pid = self.directory.apply(record.value).participant_id
            keyed, expires = self.directory.expires(pid)
            if keyed:
                self._metrics.key_expiry(pid, expires)
            else:
                self._metrics.key_gone(pid)
        except RejectedInput as exc:
            if self._dlq is not None:
                await self._dlq.publish(record, exc.reason, str(exc))  # which logs it
            else:
                self._metrics.dead_lettered(exc.reason)
                log_dead_letter(log, record, exc.reason)

    async def _stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, FatalError):
                await self._task
        if self._consumer is not None:
            await close_quietly(self._consumer.stop(), "the key directory consumer")
