"""The real broker on the local Kafka signs checkpoints over its audit chains: within the interval while it
runs, and at shutdown, so `jigsaw audit verify` finds no unsigned tail after a clean stop and `jigsaw audit
prove` binds a decision to a signed checkpoint. A record someone else appends to the audit topic is at
best an unsigned tail, and the broker's next record breaks the chain at it."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from apps.cli import cli
from devkit.testkit.broker import Rig, sections
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import read_to_end
from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.framing import now_micros
from services.broker.audit import AUDIT_RECORD, ChainReport, chain_hash, seal_audit_record, verify_chain
from tests.integration import kafkautil as ku


async def _report(rig: Rig) -> tuple[ChainReport, list[Record]]:
    records = await read_to_end(rig.kafka, rig.topics.audit)
    return verify_chain(rig.registry, rig.world.directory, "broker", records), records


async def _cli(rig: Rig, tmp: Path, *args: str) -> Result:
    argv = [
        *args,
        "--bootstrap",
        rig.kafka.bootstrap,
        "--prefix",
        rig.topics.prefix,
        "--keys-dir",
        str(tmp / "keys"),
    ]
    return await asyncio.to_thread(CliRunner().invoke, cli, argv)


async def _case(rig: Rig, rid: str) -> None:
    await rig.referral(rid, "RED", sections("referral_details", subject=""))
    await rig.assign(rid, "csc-mash", "police-mash")
    await rig.intel("police.devon", rid, sections("police_incidents", subject="S1"))
    await rig.settle()


async def test_checkpoints_sign_the_chain_while_running_and_at_shutdown(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    rig = await Rig.create(kafka, topics, registry, tmp_path)
    await rig.start()
    try:
        await _case(rig, "R-1")
        # While it runs, quiet chains are signed within the interval (1 s), not only at shutdown.
        for _ in range(100):
            report, records = await _report(rig)
            if records and report.unsigned_tail == 0:
                break
            await asyncio.sleep(0.1)
        assert report.ok, report.breaks
        assert (report.unsigned_tail, report.checkpoints > 0) == (0, True)
        await _case(rig, "R-2")
    finally:
        await rig.close()
    report, records = await _report(rig)
    assert report.ok, report.breaks
    assert report.unsigned_tail == 0
    decoded = [registry.decode(r.value or b"", AUDIT_RECORD) for r in records]
    decisions = [a for a in decoded if a["event"] == "DECISION"]
    assert decisions
    assert all(not a["signature"] for a in decisions)  # covered by the checkpoints alone

    verified = await _cli(rig, tmp_path, "audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "0 breaks" in verified.stdout
    assert "after the last checkpoint" not in verified.stdout
    proved = await _cli(rig, tmp_path, "audit", "prove", decisions[0]["decision_id"])
    assert proved.exit_code == 0, proved.output
    assert "included: every link and the signature check" in proved.stdout
    missing = await _cli(rig, tmp_path, "audit", "prove", "no-such-decision")
    assert missing.exit_code == 1


async def test_a_record_appended_by_someone_else_is_unproven_and_the_broker_breaks_the_chain_at_it(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    rig = await Rig.create(kafka, topics, registry, tmp_path)
    await rig.start()
    try:
        await _case(rig, "R-1")
    finally:
        await rig.close()
    _, records = await _report(rig)
    last = max((r for r in records if r.partition == records[0].partition), key=lambda r: r.offset)
    head = registry.decode(last.value or b"", AUDIT_RECORD)
    # A well-formed next link, "released to partner-hub", signed with a key that is not the broker's.
    forged: dict[str, Any] = {
        **head,
        "event": "DECISION",
        "decision_id": "forged-1",
        "referral_id": "R-1",
        "subscriber": "partner-hub",
        "category": "police_incidents",
        "outcome": "RELEASE",
        "seq": head["seq"] + 1,
        "prev_hash": chain_hash(last.value or b""),
        "partition": None,
        "decided_at": now_micros(),
    }
    value = seal_audit_record(registry, rig.world.keys["police.devon"].current, forged, signed=False)
    await ku.produce_records(kafka, topics.audit, [Record(topics.audit, last.partition, 0, b"R-1", value)])

    report, _ = await _report(rig)
    assert report.ok  # on the chain, but under no signature: a tail, never proved
    assert report.unsigned_tail == 1
    proof = await _cli(rig, tmp_path, "audit", "prove", "forged-1")
    assert proof.exit_code == 1
    assert "NOT PROVED: not yet under a checkpoint" in proof.stdout

    rig.producer = Producer(kafka)  # the first close stopped the rig's own
    await rig.producer.start()
    await rig.start()  # the broker knows its own chain head, not the forged one
    try:
        await _case(rig, "R-1b")
        await rig.intel("police.devon", "R-1", sections("police_incidents", subject="S1"))
        await rig.settle()
    finally:
        await rig.close()
    report, _ = await _report(rig)
    assert not report.ok
    assert any("prev_hash" in b.problem or "follows" in b.problem for b in report.breaks or [])
