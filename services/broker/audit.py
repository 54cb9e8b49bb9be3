"""The audit log: one hash-chained record per decision, including every refusal, under signed checkpoints.

Records carry categories, outcomes, rules and lawful bases, never content. Each audit partition is one
chain: ``seq`` counts from 1 and ``prev_hash`` is the SHA-256 of the previous record's bytes (32 zero bytes
before the first). The broker signs a CHECKPOINT record on each chain every so many records or
milliseconds, and at shutdown: its signature covers its ``prev_hash``, which commits to every record
before it, as a transparency log's signed tree head does. A record covered by a checkpoint needs no
signature of its own (AuditRecord v4); older records each carry one, and a good one covers its chain too.
An edit breaks the chain at the next link and a forged link breaks the next checkpoint's signature; an
exact copy of a record (an outbox re-send after a crash) is a duplicate, not a break.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature

from jigsaw.bus.records import Record
from jigsaw.errors import JigsawError, OversizedRecord
from jigsaw.wire.codec import MAGIC, SchemaRegistry, SchemaVersion
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.framing import frame, micros
from jigsaw.wire.keys import KeyGeneration

AUDIT_RECORD = "jigsaw.body.AuditRecord"
_DOMAIN = b"jigsaw-audit-v1"
GENESIS = bytes(32)


def _signing_bytes(registry: SchemaRegistry, schema: SchemaVersion, record: dict[str, Any]) -> bytes:
    return frame([_DOMAIN, schema.fingerprint, registry.encode_body(schema, {**record, "signature": b""})])


def seal_audit_record(
    registry: SchemaRegistry, signer: KeyGeneration, record: dict[str, Any], *, signed: bool = True
) -> bytes:
    """Encode one audit record; ``signed=False`` leaves its signature empty, for the next checkpoint on its
    chain to cover."""
    schema = registry.latest(AUDIT_RECORD)
    record = {**record, "broker_kid": signer.sign_kid, "signature": b""}
    unsigned = registry.encode_body(schema, record)
    if not signed:
        return _checked(registry, schema, MAGIC + schema.fingerprint + unsigned)
    signature = signer.sign.sign(frame([_DOMAIN, schema.fingerprint, unsigned]))
    last = schema.parsed["fields"][-1]
    if last["type"] == "bytes" and last["name"] == "signature":
        # Avro writes the fields in order, and an empty ``bytes`` as one byte, its length 0: the signed
        # record is the unsigned one with that byte replaced by the signature's length and bytes.
        data = MAGIC + schema.fingerprint + unsigned[:-1] + _avro_long(len(signature)) + signature
        return _checked(registry, schema, data)
    return registry.encode(schema, {**record, "signature": signature})


def _checked(registry: SchemaRegistry, schema: SchemaVersion, data: bytes) -> bytes:
    if len(data) > registry.max_record_bytes:
        raise OversizedRecord(f"{schema} record is {len(data)} bytes")
    return data


def _avro_long(n: int) -> bytes:
    """Avro's encoding of a long: zig-zag, then 7 bits a byte, least significant first."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def chain_hash(value: bytes) -> bytes:
    return hashlib.sha256(value).digest()


@dataclass(frozen=True)
class Break:
    partition: int
    offset: int
    problem: str


@dataclass
class ChainReport:
    records: int = 0
    duplicates: int = 0
    breaks: list[Break] | None = None
    checkpoints: int = 0
    # Records after the last good signature on their chain: a running broker signs them within its
    # checkpoint interval, and a stopped one at shutdown, so a tail here means a broker still running or
    # one that was killed (it signs the tail when it starts again).
    unsigned_tail: int = 0

    @property
    def ok(self) -> bool:
        return not self.breaks


@dataclass
class _Chain:
    seq: int = 0
    last: bytes = GENESIS
    unsigned: int = 0


def verify_chain(
    registry: SchemaRegistry, directory: KeyDirectory, broker: str, records: Iterable[Record]
) -> ChainReport:
    """Walk every partition's chain in offset order and report each break, bad signature or bad
    checkpoint."""
    report = ChainReport(breaks=[])
    assert report.breaks is not None  # noqa: S101 - set just above
    chains: dict[int, _Chain] = {}
    seen: dict[tuple[int, int], bytes] = {}
    for rec in sorted(records, key=lambda r: (r.partition, r.offset)):
        report.records += 1
        value = rec.value or b""
        try:
            writer, body = registry.split(value)
            audit = registry.decode_body(body, writer, writer)
        except JigsawError as exc:
            report.breaks.append(Break(rec.partition, rec.offset, f"unreadable: {exc}"))
            continue
        if seen.get((rec.partition, audit["seq"])) == value:
            report.duplicates += 1
            continue
        chain = chains.setdefault(rec.partition, _Chain())
        for problem in _link_problems(registry, directory, broker, writer, rec.partition, chain, audit):
            report.breaks.append(Break(rec.partition, rec.offset, problem))
        if audit["event"] == "CHECKPOINT":
            report.checkpoints += 1
        chain.seq, chain.last = audit["seq"], chain_hash(value)
        seen[(rec.partition, audit["seq"])] = value
    report.unsigned_tail = sum(c.unsigned for c in chains.values())
    return report


def _link_problems(
    registry: SchemaRegistry,
    directory: KeyDirectory,
    broker: str,
    writer: SchemaVersion,
    partition: int,
    chain: _Chain,
    audit: dict[str, Any],
) -> list[str]:
    """What is wrong with one record as the next link of ``chain``; moves the chain's unsigned count."""
    problems = []
    if audit["seq"] != chain.seq + 1:
        problems.append(f"seq {audit['seq']} follows {chain.seq}")
    elif audit["prev_hash"] != chain.last:
        problems.append("prev_hash does not match the record before")
    checkpoint = audit["event"] == "CHECKPOINT"
    if checkpoint and audit.get("partition") != partition:
        problems.append(f"a checkpoint for partition {audit.get('partition')} on partition {partition}")
    if not audit["signature"] and not checkpoint:
        chain.unsigned += 1  # covered by the next good signature on this chain
        return problems
    problem = _signature_problem(registry, directory, broker, writer, audit)
    if problem:
        problems.append(f"checkpoint: {problem}" if checkpoint else problem)
        chain.unsigned += 0 if checkpoint else 1
    else:
        chain.unsigned = 0  # its signature covers prev_hash, so every record before it
    return problems


def _signature_problem(
    registry: SchemaRegistry,
    directory: KeyDirectory,
    broker: str,
    writer: SchemaVersion,
    audit: dict[str, Any],
) -> str | None:
    if not audit["signature"]:
        return "not signed"
    try:
        key = directory.signer(broker, audit["broker_kid"], micros(audit["decided_at"]))
    except JigsawError as exc:
        return f"signer: {exc}"
    try:
        key.sign_public.verify(audit["signature"], _signing_bytes(registry, writer, audit))
    except InvalidSignature:
        return "bad signature"
    return None


@dataclass(frozen=True)
class Proof:
    """How one record is bound to a signed checkpoint: the links from it to the checkpoint, each checked."""

    partition: int
    offset: int
    seq: int
    checkpoint_seq: int | None
    checkpoint_offset: int | None
    signed_at: int | None
    broker_kid: str | None
    links: int
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None and self.checkpoint_seq is not None


def prove(
    registry: SchemaRegistry,
    directory: KeyDirectory,
    broker: str,
    records: Iterable[Record],
    partition: int,
    offset: int,
) -> Proof:
    """Prove the record at ``partition``/``offset`` included below a signed checkpoint: each record from it
    to the first good signature after it names the one before by hash, and that signature verifies.
    Linear in the records between, which a checkpoint interval keeps short."""
    chain = sorted((r for r in records if r.partition == partition), key=lambda r: r.offset)
    start = next((i for i, r in enumerate(chain) if r.offset == offset), None)
    if start is None:
        return Proof(partition, offset, 0, None, None, None, None, 0, "no record at that offset")
    rec, audit = chain[start], _decode(registry, chain[start])
    seq, links = audit["seq"], 0

    def unproven(problem: str) -> Proof:
        return Proof(partition, offset, seq, None, None, None, None, links, problem)

    for following in [*chain[start + 1 :], None]:
        if audit["signature"]:
            writer = registry.split(rec.value or b"")[0]
            problem = _signature_problem(registry, directory, broker, writer, audit)
            if audit["event"] == "CHECKPOINT" and audit.get("partition") != partition:
                problem = "a checkpoint for another partition"
            signed_at, kid = micros(audit["decided_at"]), audit["broker_kid"]
            return Proof(partition, offset, seq, audit["seq"], rec.offset, signed_at, kid, links, problem)
        if following is None:
            break
        if following.value == rec.value:
            continue  # an exact re-send of the record before
        nxt = _decode(registry, following)
        if nxt["seq"] != audit["seq"] + 1 or nxt["prev_hash"] != chain_hash(rec.value or b""):
            return unproven(f"the chain is broken at offset {following.offset}")
        rec, audit, links = following, nxt, links + 1
    return unproven("not yet under a checkpoint")


def _decode(registry: SchemaRegistry, rec: Record) -> dict[str, Any]:
    writer, body = registry.split(rec.value or b"")
    return registry.decode_body(body, writer, writer)


def trail(registry: SchemaRegistry, records: Iterable[Record], referral_id: str) -> list[dict[str, Any]]:
    """Every decision about one referral, oldest first: who was given what, when, why; and what was not."""
    rows, seen = [], set()
    for rec in records:
        if rec.key != referral_id.encode() or rec.value is None or rec.value in seen:
            continue
        seen.add(rec.value)
        rows.append(registry.decode(rec.value, AUDIT_RECORD))
    rows.sort(key=lambda a: (micros(a["decided_at"]), a["seq"]))
    return rows
