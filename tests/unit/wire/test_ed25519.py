"""The libsodium Ed25519 wrappers agree with ``cryptography`` byte for byte and fail closed."""

from __future__ import annotations

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from jigsaw.wire.ed25519 import SigningKey, VerifyKey
from jigsaw.wire.keys import KeyGeneration, load_ed25519

MESSAGES = [b"", b"x", b"jigsaw", os.urandom(63), os.urandom(64), os.urandom(400), os.urandom(70_000)]
# RFC 8032 section 7.1, TEST 1: a fixed vector, so agreement is not only between two libraries.
RFC_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC_PUBLIC = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC_SIGNATURE = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
    "d25bf5f0595bbe24655141438e7a100b"
)
IDENTITY = b"\x01" + bytes(31)  # the neutral point: a small-order public key


def flip(raw: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(raw)
    out[index] ^= 1 << bit
    return bytes(out)


@pytest.fixture
def pair() -> tuple[Ed25519PrivateKey, SigningKey]:
    theirs = Ed25519PrivateKey.generate()
    return theirs, SigningKey.from_private_bytes(theirs.private_bytes_raw())


def test_rfc8032_vector() -> None:
    key = SigningKey.from_private_bytes(RFC_SEED)
    assert key.public_bytes_raw() == RFC_PUBLIC
    assert key.sign(b"") == RFC_SIGNATURE
    VerifyKey.from_public_bytes(RFC_PUBLIC).verify(RFC_SIGNATURE, b"")


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m)}B")
def test_signatures_are_byte_identical(pair: tuple[Ed25519PrivateKey, SigningKey], message: bytes) -> None:
    theirs, ours = pair
    signature = ours.sign(message)
    assert len(signature) == 64
    assert signature == theirs.sign(message)


def test_public_and_private_bytes_match(pair: tuple[Ed25519PrivateKey, SigningKey]) -> None:
    theirs, ours = pair
    assert ours.private_bytes_raw() == theirs.private_bytes_raw()
    assert ours.public_bytes_raw() == theirs.public_key().public_bytes_raw()
    assert ours.public_key().public_bytes_raw() == ours.public_bytes_raw()
    assert SigningKey.from_private_bytes(ours.private_bytes_raw()).sign(b"m") == ours.sign(b"m")


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: f"{len(m)}B")
def test_cross_verification(pair: tuple[Ed25519PrivateKey, SigningKey], message: bytes) -> None:
    theirs, ours = pair
    ours.public_key().verify(theirs.sign(message), message)
    theirs.public_key().verify(ours.sign(message), message)
    VerifyKey.from_public_bytes(theirs.public_key().public_bytes_raw()).verify(ours.sign(message), message)


def test_generated_keys_differ_and_verify() -> None:
    a, b = SigningKey.generate(), SigningKey.generate()
    assert a.private_bytes_raw() != b.private_bytes_raw()
    a.public_key().verify(a.sign(b"m"), b"m")
    Ed25519PublicKey.from_public_bytes(a.public_bytes_raw()).verify(a.sign(b"m"), b"m")


def _bad_inputs(key: SigningKey, message: bytes) -> dict[str, tuple[object, object]]:
    sig = key.sign(message)
    other = SigningKey.generate()
    return {
        "message bit 0": (sig, flip(message, 0)),
        "message last bit": (sig, flip(message, len(message) - 1, 7)),
        "message extended": (sig, message + b"\x00"),
        "message truncated": (sig, message[:-1]),
        "signature R bit": (flip(sig, 0), message),
        "signature S bit": (flip(sig, 40, 3), message),
        "signature last bit": (flip(sig, 63, 7), message),
        "signature truncated": (sig[:63], message),
        "signature empty": (b"", message),
        "signature extended": (sig + b"\x00", message),
        "signature zeros": (bytes(64), message),
        "signature by another key": (other.sign(message), message),
        "signature as str": (sig.hex(), message),
        "signature None": (None, message),
        "message as str": (sig, message.decode("latin-1")),
        "message None": (sig, None),
    }


BAD_CASES = tuple(_bad_inputs(SigningKey.from_private_bytes(bytes(32)), b"names only"))


@pytest.mark.parametrize("case", BAD_CASES)
def test_every_failure_is_invalid_signature(case: str) -> None:
    key = SigningKey.generate()
    message = b"the header and every section digest"
    signature, data = _bad_inputs(key, message)[case]
    with pytest.raises(InvalidSignature):
        key.public_key().verify(signature, data)  # type: ignore[arg-type]
    # The untouched pair still verifies, so the failure above is the change and not the set-up.
    key.public_key().verify(key.sign(message), message)


def test_non_canonical_s_is_refused(pair: tuple[Ed25519PrivateKey, SigningKey]) -> None:
    _, ours = pair
    order = 2**252 + 27742317777372353535851937790883648493
    sig = ours.sign(b"m")
    s = int.from_bytes(sig[32:], "little") + order
    assert s < 2**256
    with pytest.raises(InvalidSignature):
        ours.public_key().verify(sig[:32] + s.to_bytes(32, "little"), b"m")


def test_small_order_key_is_refused_where_openssl_accepts() -> None:
    # R = identity, S = 0 "verifies" under the identity key for any message: [0]B == R + [h]A.
    trivial = IDENTITY + bytes(32)
    Ed25519PublicKey.from_public_bytes(IDENTITY).verify(trivial, b"anything")  # OpenSSL lets it through
    with pytest.raises(InvalidSignature):
        VerifyKey.from_public_bytes(IDENTITY).verify(trivial, b"anything")


@pytest.mark.parametrize("length", [0, 1, 31, 33, 64])
def test_wrong_length_keys_raise_value_error(length: int) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        SigningKey.from_private_bytes(os.urandom(length))
    with pytest.raises(ValueError, match="32 bytes"):
        VerifyKey.from_public_bytes(os.urandom(length))
    with pytest.raises(ValueError, match="32 bytes"):
        load_ed25519(os.urandom(length))


def test_non_bytes_keys_raise_value_error() -> None:
    with pytest.raises(ValueError, match="32 raw bytes"):
        VerifyKey.from_public_bytes("a" * 32)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="32 raw bytes"):
        SigningKey.from_private_bytes(None)  # type: ignore[arg-type]


def test_bytes_like_inputs_still_verify(pair: tuple[Ed25519PrivateKey, SigningKey]) -> None:
    _, ours = pair
    sig = ours.sign(b"m")
    ours.public_key().verify(bytearray(sig), memoryview(b"m"))
    assert VerifyKey.from_public_bytes(bytearray(ours.public_bytes_raw())) == ours.public_key()


def test_verify_keys_compare_by_value() -> None:
    key = SigningKey.generate()
    same = VerifyKey.from_public_bytes(key.public_bytes_raw())
    assert same == key.public_key()
    assert hash(same) == hash(key.public_key())
    assert same != SigningKey.generate().public_key()


def test_repr_never_shows_the_seed() -> None:
    key = SigningKey.generate()
    assert key.private_bytes_raw().hex() not in repr(key)
    assert key.public_bytes_raw().hex() in repr(key)


def test_key_generation_signs_with_libsodium_and_keeps_its_bytes() -> None:
    gen = KeyGeneration.generate(1)
    assert isinstance(gen.sign, SigningKey)
    assert gen.sign_public == gen.sign.public_bytes_raw()
    signature = gen.sign.sign(b"data")
    load_ed25519(gen.sign_public).verify(signature, b"data")
    seed = gen.sign.private_bytes_raw()
    assert Ed25519PrivateKey.from_private_bytes(seed).sign(b"data") == signature
