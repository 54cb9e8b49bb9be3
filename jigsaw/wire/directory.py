"""The key directory: participants' public keys, signed by the admin root key.

Records travel on the compacted ``jigsaw.keys.v1`` topic, keyed ``<participant>/<epoch>`` so compaction
keeps every epoch (old messages must stay verifiable); a revocation is keyed
``<participant>/<epoch>/revoked/<reason>``, so compaction keeps it beside the key it revokes.
A key is judged at the time a message names (its ``created_at``), against the directory's own times,
which the admin root signed: the key's validity period (``not_before`` to ``not_after``) and ``revoked_at``.
Only a clearly benign revocation (superseded, cessation of operation, affiliation changed) is judged by
time, so messages created before it stay valid and a rebuild still reads them. Any other reason (a
compromise, UNSPECIFIED, a reason added later and read as UNSPECIFIED) refuses every message, since
whoever holds the key can backdate ``created_at``. And since ``created_at`` is the sender's to choose, a
time further ahead of the receiver's own clock than ``max_clock_skew_us`` is refused outright.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from cryptography.exceptions import InvalidSignature

from jigsaw.errors import (
    BadSignature,
    FutureDated,
    KeyNotValid,
    PayloadInvalid,
    RevokedKey,
    UnknownSender,
)
from jigsaw.wire.codec import SchemaRegistry, SchemaVersion
from jigsaw.wire.ed25519 import VerifyKey
from jigsaw.wire.framing import frame, micros, now_micros
from jigsaw.wire.keys import KeyGeneration, ParticipantKeys, kid, load_ed25519, load_x25519, unb64

KEY_RECORD = "jigsaw.body.KeyRecord"
_DOMAIN = b"jigsaw-keyrecord-v1"
# Reasons that say the private key is still safe with its holder; only these are judged by time.
BENIGN_REVOCATIONS = frozenset({"SUPERSEDED", "CESSATION_OF_OPERATION", "AFFILIATION_CHANGED"})
DEFAULT_MAX_CLOCK_SKEW_US = 5 * 60 * 1_000_000


@dataclass(frozen=True)
class PublishedKey:
    participant_id: str
    role: str
    agency: str | None
    epoch: int
    sign_kid: str
    sign_public: VerifyKey
    kex_kid: str
    kex_public: Any  # X25519PublicKey
    revoked_at: int | None
    compromised: bool
    not_before: int = 0
    not_after: int | None = None

    def refusal(self, earliest: int, latest: int) -> RevokedKey | KeyNotValid | None:
        """Why this key cannot have been used at any time in [earliest, latest], or None if it can."""
        what = f"{self.participant_id}'s key of epoch {self.epoch}"
        if self.compromised:
            return RevokedKey(f"{what} is revoked for a reason that may mean compromise")
        if self.revoked_at is not None and earliest >= self.revoked_at:
            return RevokedKey(f"{what} was revoked before the message was created")
        if self.not_after is not None and earliest >= self.not_after:
            return KeyNotValid(f"{what} expired before the message was created")
        if latest < self.not_before:
            return KeyNotValid(f"{what} was not yet valid when the message was created")
        return None


def directory_key(participant_id: str, epoch: int) -> bytes:
    return f"{participant_id}/{epoch}".encode()


def _signing_bytes(registry: SchemaRegistry, schema: SchemaVersion, record: dict[str, Any]) -> bytes:
    unsigned = {**record, "signature": b""}
    return frame([_DOMAIN, schema.fingerprint, registry.encode_body(schema, unsigned)])


def issue_key_record(
    registry: SchemaRegistry,
    root: ParticipantKeys,
    keys: dict[str, Any],
    *,
    participant_id: str,
    role: str,
    agency: str | None,
    revoked: bool = False,
    revocation_reason: str | None = None,
    not_after: int | None = None,
) -> tuple[bytes, bytes]:
    """A signed KeyRecord for one public-key generation (``Keystore.public`` form): (kafka key, value)."""
    schema = registry.latest(KEY_RECORD)
    signer: KeyGeneration = root.current
    now = now_micros()
    record: dict[str, Any] = {
        "participant_id": participant_id,
        "role": role,
        "agency": agency,
        "sign_kid": keys["sign_kid"],
        "sign_public": unb64(keys["sign_public"]),
        "kex_kid": keys["kex_kid"],
        "kex_public": unb64(keys["kex_public"]),
        "epoch": int(keys["epoch"]),
        "not_before": int(keys["created_at"]),
        "not_after": not_after,
        "revoked": revoked,
        "revoked_at": now if revoked else None,
        "revocation_reason": revocation_reason if revoked else None,
        "issued_at": now,
        "issuer": root.participant_id,
        "issuer_kid": signer.sign_kid,
        "signature": b"",
    }
    record["signature"] = signer.sign.sign(_signing_bytes(registry, schema, record))
    # A revocation has its own key, so compaction keeps it beside the record it revokes: a later
    # re-publication of the key cannot un-revoke it for a participant that reads the compacted topic.
    # One key per reason, too: a later "superseded" must not compact a "compromised" away.
    suffix = f"/revoked/{revocation_reason or 'UNSPECIFIED'}".encode() if revoked else b""
    key = directory_key(participant_id, record["epoch"]) + suffix
    return key, registry.encode(schema, record)


class KeyDirectory:
    """Verified public keys by participant and key id. ``version`` changes whenever a record is applied."""

    def __init__(
        self,
        registry: SchemaRegistry,
        root_public: VerifyKey,
        *,
        max_clock_skew_us: int = DEFAULT_MAX_CLOCK_SKEW_US,
        clock: Callable[[], int] = now_micros,
    ) -> None:
        self._registry = registry
        self._root = root_public
        self.max_clock_skew_us = max_clock_skew_us
        self._clock = clock
        self.root_kid = kid("ed25519", root_public.public_bytes_raw())
        self._by_sign: dict[tuple[str, str], PublishedKey] = {}
        self._by_kex: dict[tuple[str, str], PublishedKey] = {}
        self._epochs: dict[str, dict[int, PublishedKey]] = {}
        self.version = 0

    def apply(self, value: bytes) -> PublishedKey:
        """Verify a KeyRecord against the root key and take it in. Raises a typed error otherwise."""
        writer, _ = self._registry.split(value)
        if writer.fullname != KEY_RECORD:
            raise PayloadInvalid(f"expected a key record, got {writer}")
        record = self._registry.decode(value, writer, canonical=True)
        if record["issuer_kid"] != self.root_kid:
            raise UnknownSender(f"key record signed by {record['issuer_kid']}, not the admin root")
        try:
            self._root.verify(record["signature"], _signing_bytes(self._registry, writer, record))
        except InvalidSignature:
            raise BadSignature(f"key record for {record['participant_id']} has a bad signature") from None
        return self._take(record)

    def _take(self, record: dict[str, Any]) -> PublishedKey:
        pid, epoch = record["participant_id"], int(record["epoch"])
        known = self._epochs.get(pid, {}).get(epoch)
        if known is not None and known.revoked_at is not None and not record["revoked"]:
            return known  # a revocation is final: an unrevoked copy of the key, in any order, changes nothing
        sign_raw, kex_raw = bytes(record["sign_public"]), bytes(record["kex_public"])
        if kid("ed25519", sign_raw) != record["sign_kid"] or kid("x25519", kex_raw) != record["kex_kid"]:
            raise PayloadInvalid(f"key record for {pid} names key ids that do not match its keys")
        key = PublishedKey(
            participant_id=pid,
            role=record["role"],
            agency=record["agency"],
            epoch=epoch,
            sign_kid=record["sign_kid"],
            sign_public=load_ed25519(sign_raw),
            kex_kid=record["kex_kid"],
            kex_public=load_x25519(kex_raw),
            revoked_at=micros(record["revoked_at"]) if record["revoked"] else None,
            compromised=record["revoked"] and record["revocation_reason"] not in BENIGN_REVOCATIONS,
            not_before=micros(record["not_before"]),
            not_after=micros(record["not_after"]) if record["not_after"] is not None else None,
        )
        if known is not None and known.revoked_at is not None:
            # Revocations only tighten: the earliest time stands, and a compromise is never downgraded.
            key = replace(
                key,
                revoked_at=min(known.revoked_at, key.revoked_at or known.revoked_at),
                compromised=known.compromised or key.compromised,
            )
        self._by_sign[(pid, key.sign_kid)] = key
        self._by_kex[(pid, key.kex_kid)] = key
        self._epochs.setdefault(pid, {})[epoch] = key
        self.version += 1
        return key

    def participants(self) -> list[str]:
        return sorted(self._epochs)

    def horizon(self) -> int:
        """The latest time a message may claim: the receiver's clock plus the allowed skew."""
        return self._clock() + self.max_clock_skew_us

    def _usable(
        self, key: PublishedKey | None, participant_id: str, at: int, until: int | None, what: str
    ) -> PublishedKey:
        if key is None:
            if participant_id not in self._epochs:
                raise UnknownSender(f"{participant_id} is not in the key directory")
            raise UnknownSender(f"{participant_id} has no published {what}")
        horizon = self.horizon()
        if at > horizon:
            ahead_s = (at - horizon + self.max_clock_skew_us) // 1_000_000
            raise FutureDated(
                f"a message by {participant_id} dated {ahead_s}s ahead of this receiver's clock"
            )
        refusal = key.refusal(at, at if until is None else min(until, horizon))
        if refusal is not None:
            raise refusal
        return key

    def has_kex(self, participant_id: str, kex_kid: str) -> bool:
        return (participant_id, kex_kid) in self._by_kex

    def signer(self, participant_id: str, sign_kid: str, at: int, until: int | None = None) -> PublishedKey:
        """The signing key ``sign_kid`` of ``participant_id``, if it was usable at ``at``.

        With ``until``: usable at some time from ``at`` to ``until``, for a signature whose own time is
        known only within those bounds (the broker's stamp, made after the message and before now).
        """
        key = self._by_sign.get((participant_id, sign_kid))
        return self._usable(key, participant_id, at, until, "signing key")

    def kex(self, participant_id: str, kex_kid: str, at: int, until: int | None = None) -> PublishedKey:
        return self._usable(self._by_kex.get((participant_id, kex_kid)), participant_id, at, until, "key")

    def agency(self, participant_id: str) -> str | None:
        """The agency the newest record of ``participant_id`` names, whatever the state of its keys."""
        epochs = self._epochs.get(participant_id)
        if not epochs:
            raise UnknownSender(f"{participant_id} is not in the key directory")
        return epochs[max(epochs)].agency

    def expires(self, participant_id: str) -> tuple[bool, int | None]:
        """When ``participant_id``'s key runs out (µs; None for one issued without an expiry), and whether
        the participant has a key at all. The key new messages are wrapped for, while one is usable; once
        none is, the newest one's expiry, now past. A participant whose newest key is revoked is retired
        (False): off-boarded, not expiring."""
        try:
            return True, self.current(participant_id).not_after
        except (UnknownSender, RevokedKey):
            pass
        epochs = self._epochs.get(participant_id) or {}
        newest = epochs[max(epochs)] if epochs else None
        if newest is None or newest.compromised or newest.revoked_at is not None:
            return False, None
        return True, newest.not_after

    def current(self, participant_id: str) -> PublishedKey:
        """The newest epoch usable now: what new messages to this participant are wrapped for."""
        epochs = self._epochs.get(participant_id)
        if not epochs:
            raise UnknownSender(f"{participant_id} is not in the key directory")
        now = self._clock()
        for epoch in sorted(epochs, reverse=True):
            # Up to the skew ahead, so a key its owner's clock has just made valid is already taken.
            if epochs[epoch].refusal(now, now + self.max_clock_skew_us) is None:
                return epochs[epoch]
        raise RevokedKey(f"every key of {participant_id} is revoked or outside its validity")
