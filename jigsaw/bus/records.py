"""What a handler receives, and the typed outcomes it returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import DeadLetterReason

HEADER_MSG_ID = "jigsaw-msg-id"
HEADER_KIND = "jigsaw-kind"


@dataclass(frozen=True, slots=True)
class Record:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp_ms: int = 0

    @classmethod
    def from_consumer(cls, msg: Any) -> Record:
        return cls(
            msg.topic,
            msg.partition,
            msg.offset,
            msg.key,
            msg.value,
            tuple(msg.headers or ()),
            msg.timestamp,
        )

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class Commit:
    """Done: the record's offset may be committed."""


@dataclass(frozen=True, slots=True)
class RetryLater:
    """Not now: the partition pauses with backoff and the same record comes back."""

    why: str


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Never: the record goes to the DLQ with a reason code, then its offset is committed."""

    reason: DeadLetterReason
    detail: str


Outcome = Commit | RetryLater | DeadLetter
COMMIT = Commit()


@runtime_checkable
class StoresDeadLetters(Protocol):
    """A handler on the store path: it writes a dead letter for the loop, with the record's offset, into
    its store's outbox, so the rejection commits once and a restart does not repeat it."""

    async def dead_letter(self, record: Record, letter: DeadLetter) -> Outcome: ...


@dataclass(frozen=True, slots=True)
class Bounds:
    """The largest key, value and headers a consumer accepts, checked before anything else reads them.

    A record past them can only be hostile or broken, and copying it anywhere (a dead letter, an outbox
    row, a log line) is how one record used to stop a service; so it is refused on sizes alone.
    """

    key: int
    value: int
    headers: int

    @classmethod
    def of(cls, kafka: KafkaSettings, consumer: ConsumerSettings) -> Bounds:
        value = consumer.max_value_bytes or kafka.max_record_bytes
        return cls(consumer.max_key_bytes, value, consumer.max_header_bytes)

    def violation(self, record: Record) -> tuple[str, str] | None:
        """``(part, detail)`` for the first bound ``record`` exceeds, else None. The detail holds sizes
        only, never content."""
        sizes = (
            ("key", len(record.key or b""), self.key),
            ("value", len(record.value or b""), self.value),
            ("headers", sum(len(k.encode()) + len(v or b"") for k, v in record.headers), self.headers),
        )
        for part, size, limit in sizes:
            if size > limit:
                return part, f"{part} is {size} bytes, limit {limit}"
        return None


@runtime_checkable
class HandlesBatches(Protocol):
    """A handler that applies several records of one partition at once (one local transaction).

    ``batch`` returns one outcome per record applied, in order, for a prefix of ``records``: it stops after
    a ``RetryLater``, which is then the last outcome, and the records after it were not touched. A
    ``DeadLetter`` the handler stored itself comes back as ``COMMIT``, as from ``StoresDeadLetters``."""

    async def batch(self, records: Sequence[Record]) -> list[Outcome]: ...
