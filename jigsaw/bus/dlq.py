"""Dead letters: a rejected record, its typed reason, and where it came from.

A dead letter carries the original Kafka value, which is a sealed envelope (ciphertext), and a detail string
that never holds personal data. It is encoded as a plain ``DeadLetter`` record (no envelope, no signature) so
an operator can read the DLQ without any participant key.
"""

from __future__ import annotations

import time
from typing import Any

from jigsaw.bus.clients import Producer
from jigsaw.bus.records import Record
from jigsaw.errors import DeadLetterReason
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry

DEAD_LETTER_SCHEMA = "jigsaw.body.DeadLetter"
MAX_DETAIL = 500


class DeadLetterCodec:
    def __init__(self, registry: SchemaRegistry, service: str) -> None:
        self._registry = registry
        self._schema = registry.latest(DEAD_LETTER_SCHEMA)
        self.service = service

    def encode(self, record: Record, reason: DeadLetterReason, detail: str) -> bytes:
        original = record.value
        # Keep the DLQ record itself under the size limit: a huge original is what got it rejected.
        if original is not None and len(original) > self._registry.max_record_bytes // 2:
            original = None
        return self._registry.encode(
            self._schema,
            {
                "service": self.service,
                "source_topic": record.topic,
                "source_partition": record.partition,
                "source_offset": record.offset,
                "key": record.key.decode("utf-8", "replace") if record.key is not None else None,
                "reason": reason.value,
                "detail": detail[:MAX_DETAIL],
                "original": original,
                "failed_at": time.time_ns() // 1000,
            },
        )

    def decode(self, data: bytes) -> dict[str, Any]:
        return self._registry.decode(data, DEAD_LETTER_SCHEMA)


class DeadLetterPublisher:
    """Publishes dead letters and waits for Kafka's acknowledgement before the source is committed."""

    def __init__(
        self, producer: Producer, codec: DeadLetterCodec, topic: str, metrics: KernelMetrics
    ) -> None:
        self._producer = producer
        self._codec = codec
        self._topic = topic
        self._metrics = metrics

    async def publish(self, record: Record, reason: DeadLetterReason, detail: str) -> None:
        value = self._codec.encode(record, reason, detail)
        await self._producer.send_and_wait(self._topic, value, key=record.key)
        self._metrics.dead_lettered(reason)
