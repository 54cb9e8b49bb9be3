"""Signed checkpoints over the audit chains (AuditRecord v4).

An audit record carries no signature of its own: the next CHECKPOINT on its partition signs the chain head,
which commits to every record before it. The tests alter the chain as someone with write access to the
audit topic would, and check that `verify_chain` and `prove` catch each alteration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from devkit.testkit.wire import make_world
from jigsaw.bus.records import Record
from jigsaw.bus.store import Store
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from jigsaw.wire.keys import KeyGeneration
from services.broker import state
from services.broker.audit import AUDIT_RECORD, chain_hash, prove, seal_audit_record, verify_chain
from services.broker.auditing import AuditLog
from services.broker.policy import load_policy
from tests.unit.broker.harness import POLICY
from tests.unit.broker.test_audit import _record


def _decision(seq: int, prev: bytes) -> dict[str, Any]:
    return {**_record(seq, prev, "refused"), "decision_id": f"d-{seq}"}


def _checkpoint(seq: int, prev: bytes, partition: int) -> dict[str, Any]:
    return {
        **_decision(seq, prev),
        "event": "CHECKPOINT",
        "decision_id": f"checkpoint-{seq}",
        "referral_id": "",
        "partition": partition,
    }


def _chain(
    registry: SchemaRegistry,
    signer: KeyGeneration,
    n: int,
    *,
    partition: int = 0,
) -> list[Record]:
    """``n`` unsigned decisions on one partition, then a signed checkpoint over them."""
    prev, out = bytes(32), []
    for seq in range(1, n + 1):
        fields = _decision(seq, prev)
        value = seal_audit_record(registry, signer, fields, signed=False)
        out.append(Record("audit", partition, seq - 1, b"R-1", value))
        prev = chain_hash(value)
    value = seal_audit_record(registry, signer, _checkpoint(n + 1, prev, partition))
    out.append(Record("audit", partition, n, None, value))
    return out


def _edited(registry: SchemaRegistry, signer: KeyGeneration, rec: Record) -> Record:
    """The record with its outcome changed and everything else, its link to the one before included, kept."""
    audit = registry.decode(rec.value or b"", AUDIT_RECORD)
    value = seal_audit_record(registry, signer, {**audit, "outcome": "RELEASE"}, signed=False)
    return Record(rec.topic, rec.partition, rec.offset, rec.key, value)


def _rechain(registry: SchemaRegistry, signer: KeyGeneration, records: list[Record]) -> list[Record]:
    """Recompute every prev_hash after an edit, as a forger would; the checkpoint is re-signed with
    ``signer`` (the forger's own key, since the broker's is not theirs)."""
    prev, out = bytes(32), []
    for rec in records:
        audit = registry.decode(rec.value or b"", AUDIT_RECORD)
        audit = {**audit, "prev_hash": prev, "decided_at": now_micros()}
        signed = audit["event"] == "CHECKPOINT"
        value = seal_audit_record(registry, signer, audit, signed=signed)
        out.append(Record(rec.topic, rec.partition, rec.offset, rec.key, value))
        prev = chain_hash(value)
    return out


def test_unsigned_records_under_a_checkpoint_verify(registry: SchemaRegistry) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    records = _chain(registry, signer, 5)
    assert all(not registry.decode(r.value or b"", AUDIT_RECORD)["signature"] for r in records[:5])
    report = verify_chain(registry, world.directory, "broker", records)
    assert (report.ok, report.records, report.checkpoints, report.unsigned_tail) == (True, 6, 1, 0)
    tail = verify_chain(registry, world.directory, "broker", records[:5])
    assert (tail.ok, tail.checkpoints, tail.unsigned_tail) == (True, 0, 5)


def test_an_edited_record_breaks_the_chain_and_a_rechained_forgery_breaks_the_checkpoint(
    registry: SchemaRegistry,
) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    honest = _chain(registry, signer, 4)
    spliced = [honest[0], _edited(registry, signer, honest[1]), *honest[2:]]
    report = verify_chain(registry, world.directory, "broker", spliced)
    assert not report.ok
    assert [b.offset for b in report.breaks or []] == [2]
    # Re-chaining every later record mends the links, but the checkpoint then needs a signature only the
    # broker's key can make: the forger's own key does not verify as the broker's.
    forged = _rechain(registry, world.keys["police.devon"].current, spliced)
    report = verify_chain(registry, world.directory, "broker", forged)
    assert not report.ok
    assert [b.offset for b in report.breaks or []] == [4]
    assert "checkpoint" in (report.breaks or [])[0].problem


def test_a_removed_record_or_an_unsigned_checkpoint_is_a_break(registry: SchemaRegistry) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    records = _chain(registry, signer, 4)
    assert not verify_chain(registry, world.directory, "broker", records[:1] + records[2:]).ok
    last = registry.decode(records[-1].value or b"", AUDIT_RECORD)
    bare = seal_audit_record(registry, signer, last, signed=False)
    report = verify_chain(
        registry, world.directory, "broker", [*records[:-1], Record("audit", 0, 4, None, bare)]
    )
    assert not report.ok
    assert report.unsigned_tail == 4


def test_a_checkpoint_moved_to_another_partition_is_a_break(registry: SchemaRegistry) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    # Partition 1's chain as partition 0 wrote it, checkpoint included: the links hold, the partition not.
    moved = [Record("audit", 1, r.offset, r.key, r.value) for r in _chain(registry, signer, 3, partition=0)]
    report = verify_chain(registry, world.directory, "broker", moved)
    assert not report.ok
    assert "partition 0 on partition 1" in (report.breaks or [])[0].problem


def test_prove_binds_a_record_to_the_checkpoint_above_it(registry: SchemaRegistry) -> None:
    world = make_world(registry)
    signer = world.keys["broker"].current
    records = _chain(registry, signer, 5)
    proof = prove(registry, world.directory, "broker", records, 0, 1)
    assert proof.ok
    assert (proof.seq, proof.checkpoint_seq, proof.checkpoint_offset, proof.links) == (2, 6, 5, 4)
    # An exact re-send in between is skipped, not counted as a link.
    resent = [*records[:3], Record("audit", 0, 99, b"R-1", records[2].value), *records[3:]]
    resent = sorted(resent, key=lambda r: r.offset if r.offset != 99 else 2.5)
    resent = [Record("audit", 0, i, r.key, r.value) for i, r in enumerate(resent)]
    assert prove(registry, world.directory, "broker", resent, 0, 1).links == 4
    pending = prove(registry, world.directory, "broker", records[:5], 0, 1)
    assert not pending.ok
    assert pending.problem == "not yet under a checkpoint"
    spliced = [*records[:3], _edited(registry, signer, records[3]), *records[4:]]
    broken = prove(registry, world.directory, "broker", spliced, 0, 1)
    assert not broken.ok
    assert "broken" in (broken.problem or "")
    forged = prove(
        registry,
        world.directory,
        "broker",
        _rechain(registry, world.keys["police.devon"].current, spliced),
        0,
        1,
    )
    assert not forged.ok
    assert forged.checkpoint_seq == 6


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _append(log: AuditLog, store: Store, partition: int, n: int) -> None:
    policy = load_policy(POLICY)
    for _ in range(n):
        with store.transaction() as tx:
            log.begin()
            log.append(
                tx,
                policy,
                partition,
                "R-1",
                _decision(0, b"") | {"seq": None, "prev_hash": None, "decided_at": None},
            )
            log.commit(tx)


def _outbox(store: Store, registry: SchemaRegistry) -> list[Record]:
    rows = store.conn.execute("SELECT partition, value FROM kernel_outbox ORDER BY seq").fetchall()
    return [Record("audit", p, i, None, bytes(v)) for i, (p, v) in enumerate(rows)]


def test_the_log_signs_after_so_many_records_after_so_long_and_after_a_crash(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    world = make_world(registry)
    clock = _Clock()
    store = Store(tmp_path / "broker.sqlite", state.SCHEMA)
    store.open()
    log = AuditLog(
        registry, lambda: world.keys["broker"].current, Topics(), every=3, every_s=1.0, clock=clock
    )
    _append(log, store, 0, 7)  # a checkpoint after the 3rd and after the 6th record: 9 records in all
    events = [registry.decode(r.value or b"", AUDIT_RECORD)["event"] for r in _outbox(store, registry)]
    assert events.count("CHECKPOINT") == 2
    assert events[3] == events[7] == "CHECKPOINT"
    assert log.due() == []
    _append(log, store, 1, 1)
    clock.now += 0.5
    assert log.due() == []
    clock.now += 0.6
    assert log.due() == [0, 1]
    with store.transaction() as tx:
        assert log.checkpoint(tx, log.due()) == 2
    records = _outbox(store, registry)
    report = verify_chain(registry, world.directory, "broker", [r for r in records if r.partition == 0])
    assert (report.ok, report.unsigned_tail) == (True, 0)
    # A crash: a new log on the same store knows nothing in memory, and finds the unsigned tail.
    _append(log, store, 0, 1)
    fresh = AuditLog(
        registry, lambda: world.keys["broker"].current, Topics(), every=3, every_s=1.0, clock=clock
    )
    with store.transaction() as tx:
        fresh.recover(tx)
    assert fresh.due() == [0]
    with store.transaction() as tx:
        assert fresh.checkpoint(tx, fresh.due()) == 1
        assert fresh.checkpoint(tx, [0, 1]) == 0  # nothing unsigned: no empty checkpoint
    records = _outbox(store, registry)
    for p in (0, 1):
        report = verify_chain(registry, world.directory, "broker", [r for r in records if r.partition == p])
        assert (report.ok, report.unsigned_tail) == (True, 0)
    store.close()
