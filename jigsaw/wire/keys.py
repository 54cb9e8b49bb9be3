"""Participant keys, the encrypted keystore, and wrapping-key derivation.

Each participant holds, per epoch, an Ed25519 signing key and an X25519 key-agreement key. A key id
(``kid``) names one public key exactly: ``ed25519:<16 hex>`` or ``x25519:<16 hex>`` of its SHA-256.
Wrapping keys (KEKs) come from X25519 between the wrapper's and the recipient's keys of given epochs, through
HKDF-SHA256 bound to both participant ids and both key ids; they are cached, because one agreement costs
tens of microseconds and a wrap with a cached key about one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from cachetools import TTLCache
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import SecretStr

from jigsaw.errors import ConfigError, WrongEpoch
from jigsaw.files import write_private
from jigsaw.wire.ed25519 import SigningKey, VerifyKey
from jigsaw.wire.framing import frame, now_micros

KEYSTORE_FORMAT = "jigsaw-keystore-v1"
_RAW = (Encoding.Raw, PublicFormat.Raw)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def kid(kind: str, public_raw: bytes) -> str:
    return f"{kind}:{hashlib.sha256(public_raw).hexdigest()[:16]}"


@dataclass(frozen=True)
class KeyGeneration:
    """One epoch of a participant's keys. Public halves and key ids are computed once, on first use."""

    epoch: int
    sign: SigningKey
    kex: X25519PrivateKey
    created_at: int = field(default_factory=now_micros)

    @cached_property
    def sign_public(self) -> bytes:
        return self.sign.public_bytes_raw()

    @cached_property
    def kex_public(self) -> bytes:
        return self.kex.public_key().public_bytes(*_RAW)

    @cached_property
    def sign_kid(self) -> str:
        return kid("ed25519", self.sign_public)

    @cached_property
    def kex_kid(self) -> str:
        return kid("x25519", self.kex_public)

    @classmethod
    def generate(cls, epoch: int) -> KeyGeneration:
        return cls(epoch, SigningKey.generate(), X25519PrivateKey.generate())

    def public_record(self) -> dict[str, object]:
        return {
            "epoch": self.epoch,
            "sign_kid": self.sign_kid,
            "sign_public": b64(self.sign_public),
            "kex_kid": self.kex_kid,
            "kex_public": b64(self.kex_public),
            "created_at": self.created_at,
        }


@dataclass
class ParticipantKeys:
    """Every epoch of one participant's private keys. The newest epoch signs and receives."""

    participant_id: str
    role: str
    agency: str | None = None
    generations: dict[int, KeyGeneration] = field(default_factory=dict)

    @classmethod
    def generate(cls, participant_id: str, role: str, agency: str | None = None) -> ParticipantKeys:
        keys = cls(participant_id, role, agency)
        keys.rotate()
        return keys

    @property
    def current(self) -> KeyGeneration:
        if not self.generations:
            raise ConfigError(f"{self.participant_id} has no keys")
        return self.generations[max(self.generations)]

    @cached_property
    def id_secret(self) -> bytes:
        """The key for ids only this participant can derive (``jigsaw.ids.keyed_id``).

        From the first generation's signing key, which the keystore keeps, so a retry after a rotation
        still derives the same id; HKDF with its own label, so it is no use as the signing key itself.
        """
        if not self.generations:
            raise ConfigError(f"{self.participant_id} has no keys")
        seed = self.generations[min(self.generations)].sign.private_bytes_raw()
        hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"jigsaw msg-id v1")
        return hkdf.derive(seed + self.participant_id.encode())

    def rotate(self) -> KeyGeneration:
        epoch = max(self.generations, default=0) + 1
        self.generations[epoch] = KeyGeneration.generate(epoch)
        return self.generations[epoch]

    def by_kex_kid(self, kex_kid: str) -> KeyGeneration:
        for gen in self.generations.values():
            if gen.kex_kid == kex_kid:
                return gen
        raise WrongEpoch(f"{self.participant_id} holds no key-agreement key {kex_kid}")


class Keystore:
    """One file per participant: public halves in the clear, private halves sealed under a passphrase.

    The private part is AES-256-GCM under a key from scrypt, with the file's format, the participant id and
    the public part as associated data, so neither can be swapped without the open failing.
    """

    def __init__(self, directory: Path, passphrase: SecretStr, scrypt_n: int = 2**15) -> None:
        self.directory = directory
        self._passphrase = passphrase
        self._n = scrypt_n

    def path(self, participant_id: str) -> Path:
        return self.directory / f"{participant_id}.keystore.json"

    def exists(self, participant_id: str) -> bool:
        return self.path(participant_id).exists()

    def _key(self, salt: bytes, n: int) -> bytes:
        raw = self._passphrase.get_secret_value().encode()
        return Scrypt(salt=salt, length=32, n=n, r=8, p=1).derive(raw)

    @staticmethod
    def _aad(participant_id: str, public: object) -> bytes:
        return frame([KEYSTORE_FORMAT, participant_id, json.dumps(public, sort_keys=True)])

    def save(self, keys: ParticipantKeys) -> Path:
        public = {
            "role": keys.role,
            "agency": keys.agency,
            "generations": [g.public_record() for g in sorted(keys.generations.values(), key=_epoch)],
        }
        secret = {
            str(g.epoch): {"sign": b64(g.sign.private_bytes_raw()), "kex": b64(g.kex.private_bytes_raw())}
            for g in keys.generations.values()
        }
        salt, nonce = os.urandom(16), os.urandom(12)
        sealed = AESGCM(self._key(salt, self._n)).encrypt(
            nonce, json.dumps(secret).encode(), self._aad(keys.participant_id, public)
        )
        doc = {
            "format": KEYSTORE_FORMAT,
            "participant_id": keys.participant_id,
            "public": public,
            "kdf": {"name": "scrypt", "salt": b64(salt), "n": self._n, "r": 8, "p": 1},
            "nonce": b64(nonce),
            "sealed": b64(sealed),
        }
        path = self.path(keys.participant_id)
        # Created 0600 before a byte is written, in a 0700 directory: the sealed halves are only as safe
        # as the passphrase, so no other account gets to try it offline.
        write_private(path, json.dumps(doc, indent=2).encode())
        return path

    def public(self, participant_id: str) -> dict[str, Any]:
        """The clear part: role, agency and every generation's public keys. Needs no passphrase."""
        public: dict[str, Any] = self._read(participant_id)["public"]
        return public

    def _read(self, participant_id: str) -> dict[str, Any]:
        path = self.path(participant_id)
        try:
            doc: dict[str, Any] = json.loads(path.read_text())
        except OSError as exc:
            raise ConfigError(f"no keystore for {participant_id} at {path}: run `jigsaw keys init`") from exc
        except ValueError as exc:
            raise ConfigError(f"{path} is not a keystore file") from exc
        if doc.get("format") != KEYSTORE_FORMAT or doc.get("participant_id") != participant_id:
            raise ConfigError(f"{path} is not a {KEYSTORE_FORMAT} keystore for {participant_id}")
        return doc

    def load(self, participant_id: str) -> ParticipantKeys:
        doc = self._read(participant_id)
        kdf, public = doc["kdf"], doc["public"]
        try:
            plain = AESGCM(self._key(unb64(kdf["salt"]), int(kdf["n"]))).decrypt(
                unb64(str(doc["nonce"])), unb64(str(doc["sealed"])), self._aad(participant_id, public)
            )
        except InvalidTag:
            raise ConfigError(
                f"cannot open the keystore of {participant_id}: "
                "the passphrase is wrong or the file was altered"
            ) from None
        secret = json.loads(plain)
        keys = ParticipantKeys(participant_id, public["role"], public["agency"])
        for gen in public["generations"]:
            epoch = int(gen["epoch"])
            pair = secret[str(epoch)]
            keys.generations[epoch] = KeyGeneration(
                epoch,
                SigningKey.from_private_bytes(unb64(pair["sign"])),
                X25519PrivateKey.from_private_bytes(unb64(pair["kex"])),
                int(gen["created_at"]),
            )
        return keys


def _epoch(gen: KeyGeneration) -> int:
    return gen.epoch


class KekCache:
    """Wrapping keys per (wrapper, recipient, their key ids), bounded and expiring."""

    def __init__(self, maxsize: int = 4096, ttl_s: float = 3600.0) -> None:
        self._cache: TTLCache[tuple[str, str, str, str], AESGCM] = TTLCache(maxsize, ttl_s)
        self.hits = 0
        self.misses = 0

    def get(
        self,
        own: KeyGeneration,
        peer_public: X25519PublicKey,
        peer_kid: str,
        wrapper_id: str,
        recipient_id: str,
        wrapper_is_self: bool,
    ) -> AESGCM:
        wrapper_kid, recipient_kid = (own.kex_kid, peer_kid) if wrapper_is_self else (peer_kid, own.kex_kid)
        key = (wrapper_id, wrapper_kid, recipient_id, recipient_kid)
        kek = self._cache.get(key)
        if kek is not None:
            self.hits += 1
            return kek
        self.misses += 1
        shared = own.kex.exchange(peer_public)
        raw = HKDF(
            algorithm=hashes.SHA256(),
            length=32,
            salt=b"jigsaw-kek-v1",
            info=frame([wrapper_id, wrapper_kid, recipient_id, recipient_kid]),
        ).derive(shared)
        kek = AESGCM(raw)
        self._cache[key] = kek
        return kek


def kek_id(wrapper_id: str, wrapper_kid: str, recipient_kid: str) -> str:
    return f"{wrapper_id}|{wrapper_kid}|{recipient_kid}"


def parse_kek_id(value: str) -> tuple[str, str, str]:
    parts = value.split("|")
    if len(parts) != 3:
        raise WrongEpoch(f"malformed kek id {value!r}")
    return parts[0], parts[1], parts[2]


def load_x25519(raw: bytes) -> X25519PublicKey:
    return X25519PublicKey.from_public_bytes(raw)


def load_ed25519(raw: bytes) -> VerifyKey:
    return VerifyKey.from_public_bytes(raw)
