"""Typed identifiers. A referral id is opaque (``R-`` plus a UUIDv7); it never contains a name."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from typing import NewType

import uuid6

ReferralId = NewType("ReferralId", str)
MsgId = NewType("MsgId", str)
ParticipantId = NewType("ParticipantId", str)
TopicName = NewType("TopicName", str)


def new_msg_id() -> MsgId:
    # UUIDv7 sorts by creation time, which keeps the stores' primary-key indexes append-mostly.
    return MsgId(str(uuid6.uuid7()))


def new_referral_id() -> ReferralId:
    return ReferralId(f"R-{uuid6.uuid7().hex}")


def derived_id(namespace: str, *parts: str) -> str:
    """A deterministic id from its inputs, so a retried step produces the same id again."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "jigsaw:" + namespace + ":" + "\x1f".join(parts)))


def keyed_id(secret: bytes, namespace: str, *parts: str) -> str:
    """A deterministic id that only the holder of ``secret`` can compute.

    A participant derives the ids it publishes under this (its return to an enquiry, say) from values that
    every other participant can see; keyed by the sender's own secret, no one else can predict the id and
    publish first under it to have the real message refused as a replay.
    """
    data = ("jigsaw:" + namespace + ":" + "\x1f".join(parts)).encode()
    digest = hmac.new(secret, data, hashlib.sha256).digest()
    # RFC 9562's version 8 is the UUID for custom (here keyed-hash) contents; Python 3.11 cannot set it.
    raw = bytearray(digest[:16])
    raw[6] = (raw[6] & 0x0F) | 0x80
    raw[8] = (raw[8] & 0x3F) | 0x80
    return str(uuid.UUID(bytes=bytes(raw)))
