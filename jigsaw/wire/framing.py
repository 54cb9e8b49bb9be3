"""Unambiguous byte strings for signatures, associated data and key derivation.

Every part is length-prefixed, so no choice of ids can make two different tuples frame to the same bytes
(a plain ``a|b|c`` join could: ``"a|b", "c"`` and ``"a", "b|c"``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def frame(parts: Iterable[bytes | str | int]) -> bytes:
    # On the seal/open hot path: one join rather than repeated concatenation.
    out: list[bytes] = []
    for part in parts:
        if isinstance(part, str):
            raw = part.encode("utf-8")
        elif isinstance(part, int):
            raw = part.to_bytes(8, "big", signed=True)
        else:
            raw = part
        out.append(len(raw).to_bytes(4, "big"))
        out.append(raw)
    return b"".join(out)


def micros(value: datetime | int) -> int:
    """fastavro reads timestamp-micros as an aware datetime; signatures need the exact integer."""
    if isinstance(value, int):
        return value
    return (value - _EPOCH) // _MICRO


def now_micros() -> int:
    return micros(datetime.now(UTC))
