"""Producer and consumer factories. Every producer is idempotent with ``acks=all``."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.errors import KafkaError
from aiokafka.structs import RecordMetadata

from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.lifecycle import Component, close_quietly, require

Headers = Sequence[tuple[str, bytes]]
PRODUCER_BATCH_BYTES = 256 * 1024
_LEGAL_TOPIC = re.compile(r"^[a-zA-Z0-9._-]{1,249}$")


class RefusedRecord(KafkaError):  # type: ignore[misc]
    """Kafka will never take this record as it is: its topic name is not legal, or its topic has no such
    partition. (A record too large is aiokafka's own ``MessageSizeTooLargeError``.)"""


def new_producer(settings: KafkaSettings, **overrides: Any) -> AIOKafkaProducer:
    kw: dict[str, Any] = {
        **settings.client_kwargs(),
        "enable_idempotence": True,
        "acks": "all",
        "linger_ms": 2,
        "max_request_size": settings.max_message_bytes,
        # aiokafka buffers one batch per partition and sends one request per broker at a time, so a
        # partition moves at most one batch per round trip. At the default 16 KiB that capped the broker's
        # audit partitions (12 records per return) at a few hundred returns a second.
        "max_batch_size": min(PRODUCER_BATCH_BYTES, settings.max_message_bytes),
    }
    kw.update(overrides)
    return AIOKafkaProducer(**kw)


def new_consumer(settings: KafkaSettings, consumer: ConsumerSettings, **overrides: Any) -> AIOKafkaConsumer:
    kw: dict[str, Any] = {
        **settings.client_kwargs(),
        "group_id": consumer.group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "isolation_level": "read_committed",
        "max_poll_records": consumer.max_poll_records,
        "session_timeout_ms": consumer.session_timeout_ms,
        "heartbeat_interval_ms": consumer.heartbeat_interval_ms,
        # Partition n of every joined topic must land on the same instance (see docs/architecture.md).
        "partition_assignment_strategy": (RangePartitionAssignor,),
    }
    kw.update(overrides)
    return AIOKafkaConsumer(**kw)


class Producer(Component):
    """An idempotent producer with the shared lifecycle."""

    def __init__(self, settings: KafkaSettings, **overrides: Any) -> None:
        self._settings = settings
        self._overrides = overrides
        self._producer: AIOKafkaProducer | None = None

    async def _start(self) -> None:
        self._producer = new_producer(self._settings, **self._overrides)
        await self._producer.start()

    async def _stop(self) -> None:
        if self._producer is not None:
            # Unacknowledged sends belong to an outbox that keeps them; do not wait forever for Kafka.
            await close_quietly(self._producer.stop(), "the producer")

    async def reset(self) -> None:
        """Replace the client with a fresh one, under a new producer id.

        When a broker refuses a batch for good (a record over the topic's own size limit), aiokafka keeps
        the sequence numbers it gave that batch, so every later send to the partition fails with
        ``OutOfOrderSequenceNumber``. A new producer id starts the sequences again. Sends in flight on the
        old client finish (or fail, and are retried by their owners) while it closes.
        """
        self._check_started()
        fresh = new_producer(self._settings, **self._overrides)
        await fresh.start()
        old, self._producer = self._producer, fresh
        if old is not None:
            await close_quietly(old.stop(), "the replaced producer")

    async def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> asyncio.Future[RecordMetadata]:
        """Queue a record; the returned future resolves when Kafka acknowledges it."""
        self._check_started()
        producer = require(self._producer, "producer")
        if not _LEGAL_TOPIC.match(topic) or topic in (".", ".."):
            # aiokafka would wait a whole request timeout for metadata that can never come.
            raise RefusedRecord(f"{topic[:300]!r} is not a legal topic name")
        try:
            fut: asyncio.Future[RecordMetadata] = await producer.send(
                topic, value=value, key=key, headers=list(headers), partition=partition
            )
        except AssertionError as exc:  # aiokafka asserts that a pinned partition exists, nothing more
            raise RefusedRecord(f"{topic} has no partition {partition}") from exc
        return fut

    async def send_and_wait(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        partition: int | None = None,
    ) -> RecordMetadata:
        return await (await self.send(topic, value, key, headers, partition))

    async def flush(self) -> None:
        self._check_started()
        await require(self._producer, "producer").flush()


class Consumer(Component):
    """A consumer subscribed to ``topics`` in one group, with manual commits and the range assignor."""

    def __init__(
        self,
        settings: KafkaSettings,
        consumer: ConsumerSettings,
        topics: Sequence[str],
        listener: ConsumerRebalanceListener | None = None,
        **overrides: Any,
    ) -> None:
        self._settings = settings
        self._consumer_settings = consumer
        self._topics = list(topics)
        self._listener = listener
        self._overrides = overrides
        self.client: AIOKafkaConsumer | None = None

    async def _start(self) -> None:
        self.client = new_consumer(self._settings, self._consumer_settings, **self._overrides)
        await self.client.start()
        if self._listener is not None:
            self.client.subscribe(self._topics, listener=self._listener)
        else:
            self.client.subscribe(self._topics)

    async def _stop(self) -> None:
        if self.client is not None:
            await self.client.stop()
