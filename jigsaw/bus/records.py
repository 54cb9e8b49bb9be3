"""What a handler receives, and the typed outcomes it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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
