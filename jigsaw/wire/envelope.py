"""The sealed envelope: ``seal`` for senders, ``verify`` and ``rekey`` for the broker, ``open`` for readers.

- Each section is AES-256-GCM under a fresh data key (DEK). Its associated data binds the message id,
  referral id, sender, category, subject and payload schema, so a section pasted into another message, or
  moved to another subject, fails to decrypt.
- The DEK is wrapped for each recipient under a KEK from X25519 + HKDF (see ``keys``), with its own
  associated data binding the message, section and recipient.
- The sender signs (Ed25519) the header and every section's nonce and SHA-256 digest, not the plaintext and
  not the wrapped keys. So the broker can re-wrap a DEK for a subscriber, or withhold a section entirely
  (keeping its digest), and the subscriber can still verify the agency's own signature. ``verify`` checks
  each ciphertext against its signed digest, so the whole of a sealed section is covered on arrival.
- A sender never withholds: a section as sealed is ciphertext and wrapped keys. A withheld notice is valid
  only in a release, where the broker's stamp signs it; anywhere else it is refused as forged.
- A release carries the broker's stamp, signed over the agency's signature and everything the broker changed.
- The envelope must be in its canonical encoding, so no byte of it can change without its meaning changing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from jigsaw.errors import (
    BadSignature,
    ContextMismatch,
    DuplicateSection,
    KeyMismatch,
    NotARecipient,
    PayloadInvalid,
    WrongEpoch,
)
from jigsaw.ids import new_msg_id
from jigsaw.wire.categories import BODY_SCHEMAS, CATEGORIES, Classification
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory, PublishedKey
from jigsaw.wire.framing import frame, micros, now_micros
from jigsaw.wire.integrity import NONCE, check_digests, check_sections
from jigsaw.wire.keys import KekCache, ParticipantKeys, kek_id, parse_kek_id
from jigsaw.wire.release import ReleaseDetails as ReleaseDetails
from jigsaw.wire.release import ReleaseInfo as ReleaseInfo
from jigsaw.wire.release import release_info, release_record

ENVELOPE = "jigsaw.envelope.Envelope"
_SIGNED = b"jigsaw-envelope-v1"
_SECTION = b"jigsaw-section-v1"
_DEK = b"jigsaw-dek-v1"
_RELEASE = b"jigsaw-release-v1"
# A stamp that carries the broker's Release record signs it too, under its own domain.
_RELEASE_DETAILED = b"jigsaw-release-v2"


@dataclass(frozen=True)
class SectionInput:
    """One category of data about one subject. The subject is the payload's own ``subject_ref``."""

    category: str
    payload: Mapping[str, Any]
    classification: Classification | None = None

    @property
    def subject_ref(self) -> str:
        return str(self.payload.get("subject_ref", ""))


@dataclass(frozen=True)
class Withhold:
    reason: str
    rule_id: str


@dataclass(frozen=True)
class OpenedSection:
    category: str
    subject_ref: str
    classification: str
    payload: dict[str, Any] | None
    withheld: Withhold | None
    schema: str | None


@dataclass(frozen=True)
class Opened:
    msg_id: str
    referral_id: str
    kind: str
    sender: str
    created_at: int
    body: dict[str, Any]
    body_schema: str
    sections: tuple[OpenedSection, ...]
    release: ReleaseInfo | None
    # From the key that signed, not the sender's current one: an old message keeps its agency after the
    # agency's keys are rotated or retired.
    agency: str | None
    signer_kid: str

    def section(self, category: str, subject_ref: str = "") -> OpenedSection | None:
        for s in self.sections:
            if (s.category, s.subject_ref) == (category, subject_ref):
                return s
        return None


@dataclass(frozen=True)
class Verified:
    """An envelope whose structure, record key, sender signature and section digests have been checked."""

    envelope: dict[str, Any]
    body: dict[str, Any]
    body_schema: str
    created_at: int
    signer: PublishedKey
    # SHA-256 of what the sender signed, which every release stamp signs over: computed once, by verify.
    signed_digest: bytes = b""
    # The data keys the broker unwrapped, by section index: unwrapped once per message however many
    # subscribers it is re-keyed for. Never serialised; lives as long as the message in hand.
    deks: dict[int, bytes] = field(default_factory=dict, compare=False, repr=False)

    @property
    def msg_id(self) -> str:
        return str(self.envelope["msg_id"])

    @property
    def sections(self) -> list[dict[str, Any]]:
        sections: list[dict[str, Any]] = self.envelope["sections"]
        return sections


def _signing_bytes(env: Mapping[str, Any], created_at: int) -> bytes:
    parts: list[bytes | str | int] = [
        _SIGNED,
        env["msg_id"],
        env["referral_id"],
        env["kind"],
        env["sender"],
        created_at,
        env["body_schema"],
        env["body"],
        env["signer_kid"],
        len(env["sections"]),
    ]
    for s in env["sections"]:
        parts += [s["category"], s["subject_ref"], s["classification"], s["payload_schema"]]
        parts += [s["nonce"], s["digest"]]
    return frame(parts)


def _section_aad(env: Mapping[str, Any], s: Mapping[str, Any]) -> bytes:
    return frame(
        [
            _SECTION,
            env["msg_id"],
            env["referral_id"],
            env["sender"],
            s["category"],
            s["subject_ref"],
            s["payload_schema"],
        ]
    )


def _dek_aad(env: Mapping[str, Any], s: Mapping[str, Any], recipient: str) -> bytes:
    return _dek_aad_prefix(env, s) + frame([recipient])


def _dek_aad_prefix(env: Mapping[str, Any], s: Mapping[str, Any]) -> bytes:
    # Framing is concatenative, so the per-section part is framed once and each recipient appended.
    return frame([_DEK, env["msg_id"], env["referral_id"], s["category"], s["subject_ref"]])


def _stamp_bytes(
    signed_digest: bytes, signature: bytes, stamp: Mapping[str, Any], sections: Sequence[Any]
) -> bytes:
    details = stamp.get("details")
    parts: list[bytes | str | int] = [
        _RELEASE if details is None else _RELEASE_DETAILED,
        signed_digest,
        signature,
        stamp["decision_id"],
        stamp["subscriber"],
        stamp["policy_version"],
        stamp["broker"],
        stamp["broker_kid"],
        len(sections),
    ]
    for s in sections:
        w = s["withheld"] or {"reason": "", "rule_id": ""}
        parts += [s["category"], s["subject_ref"], w["reason"], w["rule_id"], len(s["wrapped_keys"])]
        for k in s["wrapped_keys"]:
            parts += [k["recipient"], k["kek_id"], k["epoch"], k["wrapped"]]
    if details is not None:
        parts.append(details)
    return frame(parts)


class Envelopes:
    """Seals, verifies, re-keys and opens envelopes as one participant."""

    def __init__(
        self,
        registry: SchemaRegistry,
        directory: KeyDirectory,
        keys: ParticipantKeys,
        kek_cache: KekCache | None = None,
    ) -> None:
        self.registry = registry
        self.directory = directory
        self.keys = keys
        self.keks = kek_cache or KekCache()
        self._schema = registry.latest(ENVELOPE)
        stamp_schema = next(f["type"] for f in self._schema.parsed["fields"] if f["name"] == "release")[1]
        # An envelope schema from before v3 has nowhere to put the Release record.
        self._stamp_details = any(f["name"] == "details" for f in stamp_schema["fields"])

    @property
    def me(self) -> str:
        return self.keys.participant_id

    # -- sealing ----------------------------------------------------------------------------------
    def seal(
        self,
        *,
        kind: str,
        referral_id: str,
        body: Mapping[str, Any],
        sections: Sequence[SectionInput],
        recipients: Sequence[str],
        msg_id: str | None = None,
        created_at: int | None = None,
    ) -> bytes:
        body_schema = self.registry.latest(BODY_SCHEMAS[kind])
        targets = [(r, self.directory.current(r)) for r in dict.fromkeys(recipients)]
        me = self.keys.current
        env: dict[str, Any] = {
            "msg_id": msg_id or new_msg_id(),
            "referral_id": referral_id,
            "kind": kind,
            "sender": self.me,
            "created_at": created_at if created_at is not None else now_micros(),
            "body_schema": body_schema.fingerprint,
            "body": self.registry.encode_body(body_schema, body),
            "sections": [],
            "signature": b"",
            "signer_kid": me.sign_kid,
            "release": None,
        }
        seen: set[tuple[str, str]] = set()
        for item in sections:
            if (item.category, item.subject_ref) in seen:
                raise DuplicateSection(f"two {item.category} sections for one subject")
            seen.add((item.category, item.subject_ref))
            env["sections"].append(self._seal_section(env, item, targets))
        env["signature"] = me.sign.sign(_signing_bytes(env, env["created_at"]))
        return self.registry.encode(self._schema, env)

    def _seal_section(
        self, env: Mapping[str, Any], item: SectionInput, targets: Sequence[tuple[str, PublishedKey]]
    ) -> dict[str, Any]:
        category = CATEGORIES.get(item.category)
        if category is None:
            raise PayloadInvalid(f"unknown data category {item.category!r}")
        schema = self.registry.latest(category.schema)
        section: dict[str, Any] = {
            "category": item.category,
            "subject_ref": item.subject_ref,
            "classification": (item.classification or category.classification).value,
            "payload_schema": schema.fingerprint,
            "nonce": os.urandom(NONCE),
            "withheld": None,
        }
        dek = AESGCM.generate_key(bit_length=256)
        plain = self.registry.encode_body(schema, item.payload)
        ciphertext = AESGCM(dek).encrypt(section["nonce"], plain, _section_aad(env, section))
        section["ciphertext"] = ciphertext
        section["digest"] = hashlib.sha256(ciphertext).digest()
        prefix = _dek_aad_prefix(env, section)
        section["wrapped_keys"] = [self._wrap(prefix, dek, r, key) for r, key in targets]
        return section

    def _wrap(self, aad_prefix: bytes, dek: bytes, recipient: str, key: PublishedKey) -> dict[str, Any]:
        me = self.keys.current
        kek = self.keks.get(me, key.kex_public, key.kex_kid, self.me, recipient, wrapper_is_self=True)
        nonce = os.urandom(NONCE)
        return {
            "recipient": recipient,
            "kek_id": kek_id(self.me, me.kex_kid, key.kex_kid),
            "epoch": key.epoch,
            "wrapped": nonce + kek.encrypt(nonce, dek, aad_prefix + frame([recipient])),
        }

    # -- verifying --------------------------------------------------------------------------------
    def verify(self, value: bytes, key: bytes | None) -> Verified:
        """Decode and check structure, record key, sender signature, every section's ciphertext against its
        signed digest, and any release stamp. No decryption."""
        env = self.registry.decode(value, self._schema, canonical=True)
        if env["kind"] not in BODY_SCHEMAS:
            raise PayloadInvalid(f"envelope kind {env['kind']} is not one this reader knows")
        if key is None or key != env["referral_id"].encode():
            raise KeyMismatch("the record key is not the envelope's referral id")
        check_sections(env)
        created_at = micros(env["created_at"])
        sender = self.directory.signer(env["sender"], env["signer_kid"], created_at)
        signed = _signing_bytes(env, created_at)
        try:
            sender.sign_public.verify(env["signature"], signed)
        except InvalidSignature:
            raise BadSignature(f"signature by {env['sender']} does not verify") from None
        check_digests(env)
        if env["release"] is not None:
            self._verify_stamp(env, signed, created_at)
        writer = self.registry.by_fingerprint(env["body_schema"])
        if writer.fullname != BODY_SCHEMAS[env["kind"]]:
            raise PayloadInvalid(f"a {env['kind']} envelope carries a {writer.fullname} body")
        body = self.registry.decode_body(env["body"], writer, writer.fullname)
        return Verified(env, body, str(writer), created_at, sender, hashlib.sha256(signed).digest())

    def _verify_stamp(self, env: Mapping[str, Any], signed: bytes, created_at: int) -> None:
        stamp = env["release"]
        # The stamp carries no time of its own: it was made after the message and before now, so the
        # broker's key must have been usable at some time between the two (a rotated key stamps old ones).
        until = self.directory.horizon()
        broker = self.directory.signer(stamp["broker"], stamp["broker_kid"], created_at, until)
        if broker.role != "BROKER":
            raise BadSignature(f"release stamp by {stamp['broker']}, which is not a broker")
        data = _stamp_bytes(hashlib.sha256(signed).digest(), env["signature"], stamp, env["sections"])
        try:
            broker.sign_public.verify(stamp["signature"], data)
        except InvalidSignature:
            raise BadSignature("the broker's release stamp does not verify") from None

    # -- re-keying (the broker) -------------------------------------------------------------------
    def rekey(
        self,
        verified: Verified,
        subscriber: str,
        withheld: Mapping[tuple[str, str], Withhold],
        *,
        decision_id: str,
        policy_version: str,
        details: ReleaseDetails | None = None,
    ) -> bytes:
        """A release for ``subscriber``: released sections re-wrapped for it, the rest withheld.

        The ciphertext, nonce and digest of every section are carried byte for byte, so the agency's
        signature still verifies; this participant unwraps only the DEKs, and never decrypts a payload.
        ``details`` become the stamp's Release record, which the stamp signs.
        """
        env = verified.envelope
        if env["release"] is not None:
            raise PayloadInvalid("a release cannot be re-keyed again")
        target = self.directory.current(subscriber)
        sections = []
        for i, s in enumerate(env["sections"]):
            notice = withheld.get((s["category"], s["subject_ref"]))
            if notice is not None:
                if not (notice.reason and notice.rule_id):
                    raise PayloadInvalid(f"withholding {s['category']} needs a reason and a rule")
                out = {
                    **s,
                    "ciphertext": None,
                    "wrapped_keys": [],
                    "withheld": {"reason": notice.reason, "rule_id": notice.rule_id},
                }
            else:
                dek = verified.deks.get(i)
                if dek is None:
                    dek = self._unwrap(env, s, (verified.created_at, None), wrappers=(env["sender"],))
                    verified.deks[i] = dek
                wrapped = [self._wrap(_dek_aad_prefix(env, s), dek, subscriber, target)]
                # Only this stamp may say a section is withheld: nothing from the input passes through.
                out = {**s, "wrapped_keys": wrapped, "withheld": None}
            sections.append(out)
        me = self.keys.current
        stamp: dict[str, Any] = {
            "decision_id": decision_id,
            "subscriber": subscriber,
            "policy_version": policy_version,
            "broker": self.me,
            "broker_kid": me.sign_kid,
            "signature": b"",
        }
        if self._stamp_details:
            stamp["details"] = None if details is None else release_record(self.registry, env, stamp, details)
        signed = verified.signed_digest or hashlib.sha256(_signing_bytes(env, verified.created_at)).digest()
        stamp["signature"] = me.sign.sign(_stamp_bytes(signed, env["signature"], stamp, sections))
        return self.registry.encode(self._schema, {**env, "sections": sections, "release": stamp})

    def _unwrap(
        self,
        env: Mapping[str, Any],
        s: Mapping[str, Any],
        wrapped_in: tuple[int, int | None],
        wrappers: Sequence[str],
    ) -> bytes:
        """The section's DEK. ``wrapped_in``: when the wrapper wrapped it (from, until; see ``signer``).
        The section's structure and digest were checked by ``verify``, which made the ``Verified``."""
        mine = [k for k in s["wrapped_keys"] if k["recipient"] == self.me]
        if not mine:
            raise NotARecipient(f"section {s['category']} is not wrapped for {self.me}")
        wrapped = mine[0]
        wrapper_id, wrapper_kid, recipient_kid = parse_kek_id(wrapped["kek_id"])
        if wrapper_id not in wrappers:
            raise ContextMismatch(f"section {s['category']} was wrapped by {wrapper_id}")
        try:
            own = self.keys.by_kex_kid(recipient_kid)
        except WrongEpoch:
            if not self.directory.has_kex(self.me, recipient_kid):
                raise NotARecipient(f"section {s['category']} is wrapped for someone else's key") from None
            raise
        if own.epoch != wrapped["epoch"]:
            raise WrongEpoch(f"wrapped for epoch {wrapped['epoch']}, but {recipient_kid} is {own.epoch}")
        peer = self.directory.kex(wrapper_id, wrapper_kid, *wrapped_in)
        kek = self.keks.get(own, peer.kex_public, wrapper_kid, wrapper_id, self.me, wrapper_is_self=False)
        blob = wrapped["wrapped"]
        try:
            dek: bytes = kek.decrypt(blob[:NONCE], blob[NONCE:], _dek_aad(env, s, self.me))
        except (InvalidTag, ValueError):
            raise ContextMismatch(f"the data key of {s['category']} does not belong here") from None
        return dek

    # -- opening ----------------------------------------------------------------------------------
    def open(self, value: bytes, key: bytes | None, require_release: bool = False) -> Opened:
        """Verify, unwrap, decrypt and decode everything addressed to this participant.

        ``require_release``: refuse, before decrypting anything, a message that did not come through the
        broker (a subscriber must never read what an agency sealed to it directly).
        """
        v = self.verify(value, key)
        env, stamp = v.envelope, v.envelope["release"]
        if require_release and stamp is None:
            raise BadSignature("no broker release stamp: this message did not come through the broker")
        if stamp is not None and stamp["subscriber"] != self.me:
            raise NotARecipient(f"a release for {stamp['subscriber']}, not {self.me}")
        # The broker wrapped when it stamped, at some time from the message's creation to now.
        wrapped_in: tuple[int, int | None] = (
            v.created_at,
            None if stamp is None else self.directory.horizon(),
        )
        wrappers = (env["sender"],) if stamp is None else (stamp["broker"],)
        sections = tuple(self._open_section(env, s, wrapped_in, wrappers) for s in env["sections"])
        release = None if stamp is None else release_info(self.registry, env, stamp)
        return Opened(
            msg_id=env["msg_id"],
            referral_id=env["referral_id"],
            kind=env["kind"],
            sender=env["sender"],
            created_at=v.created_at,
            body=v.body,
            body_schema=v.body_schema,
            sections=sections,
            release=release,
            agency=v.signer.agency,
            signer_kid=v.signer.sign_kid,
        )

    def _open_section(
        self,
        env: Mapping[str, Any],
        s: Mapping[str, Any],
        wrapped_in: tuple[int, int | None],
        wrappers: Sequence[str],
    ) -> OpenedSection:
        if s["withheld"] is not None:  # verify let it through: the broker's stamp covers it
            notice = Withhold(s["withheld"]["reason"], s["withheld"]["rule_id"])
            return OpenedSection(s["category"], s["subject_ref"], s["classification"], None, notice, None)
        dek = self._unwrap(env, s, wrapped_in, wrappers)
        try:
            plain = AESGCM(dek).decrypt(s["nonce"], s["ciphertext"], _section_aad(env, s))
        except InvalidTag:
            raise ContextMismatch(f"section {s['category']} does not belong to this message") from None
        writer = self.registry.by_fingerprint(s["payload_schema"])
        category = CATEGORIES.get(s["category"])
        if category is None or writer.fullname != category.schema:
            raise PayloadInvalid(f"section {s['category']} carries a {writer.fullname} payload")
        payload = self.registry.decode_body(plain, writer, writer.fullname)
        if payload.get("subject_ref", "") != s["subject_ref"]:
            raise PayloadInvalid(f"section {s['category']}'s payload is about another subject")
        return OpenedSection(s["category"], s["subject_ref"], s["classification"], payload, None, str(writer))
