"""The audit log: one signed, hash-chained record per decision, including every refusal.

Records carry categories, outcomes, rules and lawful bases, never content. Each audit partition is one
chain: ``seq`` counts from 1 and ``prev_hash`` is the SHA-256 of the previous record's bytes (32 zero bytes
before the first). The broker signs every record, so an edit breaks a signature and a removal breaks the
chain. An exact copy of a record (an outbox re-send after a crash) is a duplicate, not a break.
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


def seal_audit_record(registry: SchemaRegistry, signer: KeyGeneration, record: dict[str, Any]) -> bytes:
    schema = registry.latest(AUDIT_RECORD)
    record = {**record, "broker_kid": signer.sign_kid, "signature": b""}
    unsigned = registry.encode_body(schema, record)
    signature = signer.sign.sign(frame([_DOMAIN, schema.fingerprint, unsigned]))
    last = schema.parsed["fields"][-1]
    if last["name"] != "signature" or last["type"] != "bytes":  # a future version may reorder its fields
        return registry.encode(schema, {**record, "signature": signature})
    # Avro writes the fields in order, and an empty ``bytes`` as one byte, its length 0: the signed record
    # is the unsigned one with that byte replaced by the signature's length and bytes. The broker seals one
    # audit record per decision, so encoding each once rather than twice is worth it.
    data = MAGIC + schema.fingerprint + unsigned[:-1] + _avro_long(len(signature)) + signature
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

    @property
    def ok(self) -> bool:
        return not self.breaks


def verify_chain(
    registry: SchemaRegistry, directory: KeyDirectory, broker: str, records: Iterable[Record]
) -> ChainReport:
    """Walk every partition's chain in offset order and report each break or bad signature."""
    report = ChainReport(breaks=[])
    assert report.breaks is not None  # noqa: S101 - set just above
    heads: dict[int, tuple[int, bytes]] = {}
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
        seq, last = heads.get(rec.partition, (0, GENESIS))
        if audit["seq"] != seq + 1:
            report.breaks.append(Break(rec.partition, rec.offset, f"seq {audit['seq']} follows {seq}"))
        elif audit["prev_hash"] != last:
            report.breaks.append(
                Break(rec.partition, rec.offset, "prev_hash does not match the record before")
            )
        problem = _signature_problem(registry, directory, broker, writer, audit)
        if problem:
            report.breaks.append(Break(rec.partition, rec.offset, problem))
        heads[rec.partition] = (audit["seq"], chain_hash(value))
        seen[(rec.partition, audit["seq"])] = value
    return report


def _signature_problem(
    registry: SchemaRegistry,
    directory: KeyDirectory,
    broker: str,
    writer: SchemaVersion,
    audit: dict[str, Any],
) -> str | None:
    try:
        key = directory.signer(broker, audit["broker_kid"], micros(audit["decided_at"]))
    except JigsawError as exc:
        return f"signer: {exc}"
    try:
        key.sign_public.verify(audit["signature"], _signing_bytes(registry, writer, audit))
    except InvalidSignature:
        return "bad signature"
    return None


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
