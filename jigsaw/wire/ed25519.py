"""Ed25519 signing and verification through libsodium (PyNaCl); everything else stays on ``cryptography``.

Why: every message is signed once and verified at least once (broker, then each subscriber, plus release
stamps, key records and audit records), so these two calls sit on the hot path. Measured on the
development machine, PyNaCl signs in about 27 µs and verifies in about 70 µs, against ``cryptography``'s
41 µs and 137-150 µs; ``bench/envelope.py`` measures both side by side in every run.

Nothing on the wire changes. Ed25519 is deterministic (RFC 8032), so the same seed and message give
byte-identical signatures from either library, and the keystore keeps the same raw 32-byte seed. The one
difference is that libsodium's verification is stricter than OpenSSL's: it also rejects small-order
public keys, a small-order ``R`` and non-canonical point encodings (both reject a non-canonical ``S``).
OpenSSL, for one, accepts the identity point as a public key with ``R`` = identity and ``S`` = 0 over any
message at all; libsodium does not (``tests/unit/wire/test_ed25519.py`` checks both). Honest signers
never produce such keys or signatures, so the stricter check only refuses crafted ones.

:meth:`VerifyKey.verify` raises ``cryptography.exceptions.InvalidSignature`` for every failure, the
exception the callers already catch, so they did not change when the implementation did.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.signing
from cryptography.exceptions import InvalidSignature

KEY_BYTES = 32
SIGNATURE_BYTES = 64

# What cryptography's verify() accepted, so a caller passing a bytearray or memoryview keeps working.
_BYTES_LIKE = (bytes, bytearray, memoryview)


def _raw_key(raw: object, what: str) -> bytes:
    if not isinstance(raw, _BYTES_LIKE):
        raise ValueError(f"an Ed25519 {what} is {KEY_BYTES} raw bytes, not {type(raw).__name__}")
    raw = bytes(raw)
    if len(raw) != KEY_BYTES:
        raise ValueError(f"an Ed25519 {what} is {KEY_BYTES} bytes long, not {len(raw)}")
    return raw


class VerifyKey:
    """An Ed25519 public key that verifies detached signatures."""

    __slots__ = ("_key", "_raw")

    def __init__(self, key: nacl.signing.VerifyKey) -> None:
        self._key = key
        self._raw = bytes(key)

    @classmethod
    def from_public_bytes(cls, raw: bytes) -> VerifyKey:
        return cls(nacl.signing.VerifyKey(_raw_key(raw, "public key")))

    def public_bytes_raw(self) -> bytes:
        return self._raw

    def verify(self, signature: bytes, data: bytes) -> None:
        """Return if ``signature`` is this key's over ``data``; raise ``InvalidSignature`` otherwise."""
        # Signatures and data come off the wire, so a wrong type or length is an attacker's input like any
        # other: it must land in the callers' one `except InvalidSignature`, not escape as a TypeError.
        if not isinstance(signature, _BYTES_LIKE) or not isinstance(data, _BYTES_LIKE):
            raise InvalidSignature
        signature = bytes(signature)
        if len(signature) != SIGNATURE_BYTES:
            raise InvalidSignature
        try:
            self._key.verify(bytes(data), signature)
        except (nacl.exceptions.CryptoError, ValueError, TypeError):
            raise InvalidSignature from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, VerifyKey):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"VerifyKey({self._raw.hex()})"


class SigningKey:
    """An Ed25519 private key (its 32-byte seed) that makes 64-byte detached signatures."""

    __slots__ = ("_key", "_public")

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        self._key = key
        # libsodium derives the public half when the key is made; wrap it once rather than per call.
        self._public = VerifyKey(key.verify_key)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(nacl.signing.SigningKey.generate())

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> SigningKey:
        return cls(nacl.signing.SigningKey(_raw_key(seed, "private key (seed)")))

    def private_bytes_raw(self) -> bytes:
        """The 32-byte seed (RFC 8032's private key), the same bytes ``cryptography`` stores."""
        return bytes(self._key)

    def public_bytes_raw(self) -> bytes:
        return self._public.public_bytes_raw()

    def public_key(self) -> VerifyKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(bytes(data)).signature

    def __repr__(self) -> str:
        # Never the seed: key generations end up in logs and tracebacks.
        return f"SigningKey(public={self.public_bytes_raw().hex()})"
