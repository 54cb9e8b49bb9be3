"""An audit record is encoded once: the result must be exactly a fresh encoding, with a good signature."""

from __future__ import annotations

from devkit.testkit.wire import make_world
from jigsaw.bus.records import Record
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.broker.audit import AUDIT_RECORD, _avro_long, chain_hash, seal_audit_record, verify_chain


def _record(seq: int, prev: bytes, reason: str) -> dict[str, object]:
    return {
        "seq": seq,
        "prev_hash": prev,
        "decision_id": "d-1",
        "referral_id": "R-1",
        "source_msg_id": "m-1",
        "subscriber": "csc-mash",
        "category": "police_incidents",
        "outcome": "WITHHOLD",
        "rule_id": "DEFAULT-DENY",
        "reason": reason,
        "lawful_basis": None,
        "policy_version": "v1",
        "purpose": "TRIAGE",
        "stage": "RED",
        "consent_state": "NONE",
        "decided_at": now_micros(),  # after the broker's key became valid: keys are judged in their period
    }


def test_sealed_audit_record_equals_a_fresh_encoding_and_verifies(registry: SchemaRegistry) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    schema = registry.latest(AUDIT_RECORD)
    prev, records = bytes(32), []
    for seq, reason in enumerate(["short", "x" * 300, "ünïcode reason"], start=1):
        value = seal_audit_record(registry, signer, _record(seq, prev, reason))
        decoded = registry.decode(value, AUDIT_RECORD)
        assert registry.encode(schema, decoded) == value
        assert len(decoded["signature"]) == 64
        records.append(Record("audit", 0, seq - 1, b"R-1", value))
        prev = chain_hash(value)
    assert verify_chain(registry, world.directory, "broker", records).ok


def test_avro_long_matches_the_spec() -> None:
    assert [_avro_long(n) for n in (0, 1, 63, 64, 8191, 8192)] == [
        b"\x00",
        b"\x02",
        b"\x7e",
        b"\x80\x01",
        b"\xfe\x7f",
        b"\x80\x80\x01",
    ]
