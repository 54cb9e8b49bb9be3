"""Typed identifiers. A referral id is opaque (``R-`` plus a UUIDv7); it never contains a name."""

from __future__ import annotations

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
