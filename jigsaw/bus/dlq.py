"""Dead letters: a rejected record, its typed reason, and where it came from.

A dead letter carries the original Kafka value, which is a sealed envelope (ciphertext), and a detail string
that never holds personal data. It is encoded as a plain ``DeadLetter`` record (no envelope, no signature) so
an operator can read the DLQ without any participant key.

A dead letter is always small enough to publish, whatever it copies: a key past ``MAX_KEY_COPY`` bytes is
replaced by its SHA-256, a value past half the record limit is cut to ``VALUE_PREFIX`` bytes, and the detail
says which, with the full size and digest, so an operator can still match it to the original.
"""

from __future__ import annotations

import hashlib
import logging
import time
from typing import Any

from jigsaw.bus.clients import Producer
from jigsaw.bus.records import Record
from jigsaw.errors import DeadLetterReason
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry

log = logging.getLogger(__name__)

DEAD_LETTER_SCHEMA = "jigsaw.body.DeadLetter"
MAX_DETAIL = 500
# A referral id is about 30 bytes and a key-directory key under 200: a key past this is not one.
MAX_KEY_COPY = 256
# What is kept of a value too large to copy whole: enough for its header (marker, schema, ids).
VALUE_PREFIX = 1024


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def dead_letter_key(record: Record) -> bytes | None:
    """The Kafka key of ``record``'s dead letter: its own key, or that key's digest when it is too long."""
    if record.key is None or len(record.key) <= MAX_KEY_COPY:
        return record.key
    return f"sha256:{_digest(record.key)}".encode()


def log_dead_letter(
    logger: logging.Logger, record: Record, reason: DeadLetterReason, *, detail_code: str | None = None
) -> None:
    """The one WARNING line of a dead letter, where it is written: the reason code and where the record
    came from, so an operator need not watch the DLQ to know. Never the key, the value or the detail:
    a detail is often built from the input (a category, a field list) and a key is whatever was sent.
    ``detail_code`` is a bounded code of the caller's, such as an exception's type name."""
    logger.warning(
        "dead-lettered %s[%d]@%d: %s%s",
        record.topic,
        record.partition,
        record.offset,
        reason.value,
        f" ({detail_code})" if detail_code else "",
    )


class DeadLetterCodec:
    def __init__(self, registry: SchemaRegistry, service: str) -> None:
        self._registry = registry
        self._schema = registry.latest(DEAD_LETTER_SCHEMA)
        self.service = service
        # Half the record limit leaves room for every other field, whatever the detail and the topic.
        self._max_original = registry.max_record_bytes // 2

    def key(self, record: Record) -> bytes | None:
        """The Kafka key to publish ``record``'s dead letter under (see ``dead_letter_key``)."""
        return dead_letter_key(record)

    def _original(self, value: bytes | None, notes: list[str]) -> bytes | None:
        if value is None or len(value) <= self._max_original:
            return value
        kept = min(VALUE_PREFIX, self._max_original)
        notes.append(f"value truncated to {kept} of {len(value)} bytes, sha256={_digest(value)}")
        return value[:kept]

    def encode(self, record: Record, reason: DeadLetterReason, detail: str) -> bytes:
        notes: list[str] = []
        key = dead_letter_key(record)
        if record.key is not None and key != record.key:
            notes.append(f"key of {len(record.key)} bytes replaced by its sha256")
        original = self._original(record.value, notes)
        return self._registry.encode(
            self._schema,
            {
                "service": self.service,
                "source_topic": record.topic,
                "source_partition": record.partition,
                "source_offset": record.offset,
                "key": key.decode("utf-8", "replace") if key is not None else None,
                "reason": reason.value,
                "detail": "; ".join(part for part in (detail[:MAX_DETAIL], *notes) if part),
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
        await self._producer.send_and_wait(self._topic, value, key=dead_letter_key(record))
        self._metrics.dead_lettered(reason)
        log_dead_letter(log, record, reason)
