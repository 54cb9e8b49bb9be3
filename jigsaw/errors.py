"""Jigsaw's error tree.

Every error the project raises derives from :class:`JigsawError`. ``retriable`` says whether trying the
same thing again may succeed; ``reason`` is the bounded dead-letter reason code a consumer records when the
error rejects a record.

::

    JigsawError
    ├── ConfigError                     bad settings or files; fatal at start-up
    ├── FatalError                      stops the service and fails its health check
    │   └── Fenced                      a partition's state moved to a newer owner (a zombie instance)
    ├── TransientError (retriable)      broker unreachable, timeouts
    ├── RejectedInput                   a record that can never be processed: dead-lettered
    │   ├── SerializationError
    │   │   ├── TruncatedRecord         TRUNCATED
    │   │   ├── BadMagic                BAD_MAGIC
    │   │   ├── UnknownSchema           UNKNOWN_SCHEMA
    │   │   ├── OversizedRecord         OVERSIZED
    │   │   └── PayloadInvalid          PAYLOAD_INVALID
    │   ├── IntegrityError
    │   │   ├── BadSignature            BAD_SIGNATURE
    │   │   │   └── ForgedWithheld      BAD_SIGNATURE
    │   │   ├── CiphertextCorrupt       INTEGRITY
    │   │   ├── ContextMismatch         CONTEXT_MISMATCH
    │   │   ├── DuplicateSection        DUPLICATE_SECTION
    │   │   └── KeyMismatch             KEY_MISMATCH
    │   ├── KeyRejected
    │   │   ├── UnknownSender           UNKNOWN_SENDER
    │   │   ├── RevokedKey              REVOKED_KEY
    │   │   ├── KeyNotValid             REVOKED_KEY
    │   │   │   └── FutureDated         REVOKED_KEY
    │   │   ├── NotARecipient           NOT_A_RECIPIENT
    │   │   └── WrongEpoch              WRONG_EPOCH
    │   ├── Replay                      REPLAY
    │   ├── UnauthorizedSender          POLICY_ERROR
    │   └── SourceRecordInvalid         SOURCE_RECORD_INVALID
    └── KafkaLocalError                 the local Kafka could not be managed (see devkit.localkafka)
"""

from __future__ import annotations

from enum import StrEnum


class DeadLetterReason(StrEnum):
    """Bounded reason codes: the DLQ record's ``reason`` and the ``reason`` metric label."""

    TRUNCATED = "TRUNCATED"
    BAD_MAGIC = "BAD_MAGIC"
    UNKNOWN_SCHEMA = "UNKNOWN_SCHEMA"
    BAD_SIGNATURE = "BAD_SIGNATURE"
    INTEGRITY = "INTEGRITY"
    CONTEXT_MISMATCH = "CONTEXT_MISMATCH"
    DUPLICATE_SECTION = "DUPLICATE_SECTION"
    KEY_MISMATCH = "KEY_MISMATCH"
    UNKNOWN_SENDER = "UNKNOWN_SENDER"
    REVOKED_KEY = "REVOKED_KEY"
    NOT_A_RECIPIENT = "NOT_A_RECIPIENT"
    WRONG_EPOCH = "WRONG_EPOCH"
    OVERSIZED = "OVERSIZED"
    REPLAY = "REPLAY"
    PAYLOAD_INVALID = "PAYLOAD_INVALID"
    SOURCE_RECORD_INVALID = "SOURCE_RECORD_INVALID"
    POLICY_ERROR = "POLICY_ERROR"
    HANDLER_REJECTED = "HANDLER_REJECTED"
    UNHANDLED = "UNHANDLED"
    OTHER = "OTHER"


class JigsawError(Exception):
    """Root of every error Jigsaw raises."""

    retriable: bool = False
    reason: DeadLetterReason = DeadLetterReason.OTHER


class ConfigError(JigsawError):
    """Settings or a configuration file are invalid."""


class FatalError(JigsawError):
    """The service cannot go on: it stops and its health check fails."""


class Fenced(FatalError):
    """This instance's claim on a partition is stale: another instance took it over, so nothing this one
    still holds for it may commit."""


class TransientError(JigsawError):
    """Trying again later may succeed."""

    retriable = True


class RejectedInput(JigsawError):
    """A record that can never be processed. It is dead-lettered with ``reason``."""

    reason = DeadLetterReason.HANDLER_REJECTED


class SerializationError(RejectedInput):
    """The bytes are not a record Jigsaw can decode."""

    reason = DeadLetterReason.PAYLOAD_INVALID


class TruncatedRecord(SerializationError):
    reason = DeadLetterReason.TRUNCATED


class BadMagic(SerializationError):
    reason = DeadLetterReason.BAD_MAGIC


class UnknownSchema(SerializationError):
    reason = DeadLetterReason.UNKNOWN_SCHEMA


class OversizedRecord(SerializationError):
    reason = DeadLetterReason.OVERSIZED


class PayloadInvalid(SerializationError):
    reason = DeadLetterReason.PAYLOAD_INVALID


class IntegrityError(RejectedInput):
    """A record failed a cryptographic or structural integrity check."""

    reason = DeadLetterReason.INTEGRITY


class BadSignature(IntegrityError):
    reason = DeadLetterReason.BAD_SIGNATURE


class ForgedWithheld(BadSignature):
    """A withheld notice that no valid broker release stamp covers: only the broker may withhold a section,
    so one in a message an agency signed, or in a release beside its ciphertext, was put there by someone
    else. (Reuses BAD_SIGNATURE: a reason code of its own needs a new DeadLetter schema version.)"""


class CiphertextCorrupt(IntegrityError):
    reason = DeadLetterReason.INTEGRITY


class ContextMismatch(IntegrityError):
    reason = DeadLetterReason.CONTEXT_MISMATCH


class DuplicateSection(IntegrityError):
    reason = DeadLetterReason.DUPLICATE_SECTION


class KeyMismatch(IntegrityError):
    reason = DeadLetterReason.KEY_MISMATCH


class KeyRejected(RejectedInput):
    """A key needed to verify or open a record is missing, revoked or not ours."""

    reason = DeadLetterReason.NOT_A_RECIPIENT


class UnknownSender(KeyRejected):
    reason = DeadLetterReason.UNKNOWN_SENDER


class RevokedKey(KeyRejected):
    reason = DeadLetterReason.REVOKED_KEY


class KeyNotValid(KeyRejected):
    """The key is outside its validity period (``not_before`` to ``not_after``) when it is judged."""

    reason = DeadLetterReason.REVOKED_KEY


class FutureDated(KeyNotValid):
    """Created further ahead of the receiver's clock than the allowed skew: no key can be judged valid at a
    time the receiver's view of the key directory has not reached."""


class NotARecipient(KeyRejected):
    reason = DeadLetterReason.NOT_A_RECIPIENT


class WrongEpoch(KeyRejected):
    reason = DeadLetterReason.WRONG_EPOCH


class Replay(RejectedInput):
    """A msg_id seen before, arriving as a new message."""

    reason = DeadLetterReason.REPLAY


class UnauthorizedSender(RejectedInput):
    """A valid, signed message from a participant whose role may not send it."""

    reason = DeadLetterReason.POLICY_ERROR


class SourceRecordInvalid(RejectedInput):
    """A connector's source record failed validation."""

    reason = DeadLetterReason.SOURCE_RECORD_INVALID


class KafkaLocalError(JigsawError):
    """The local Kafka could not be fetched, started, reached or stopped."""
