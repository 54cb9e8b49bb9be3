"""What one return becomes: the real broker handler run on one return, in this process, to learn the sizes
and counts of what it publishes (the plain pipeline then publishes the same)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prometheus_client import CollectorRegistry

from bench.kit.world import SUBSCRIBERS, Deployment, intel_body, intel_sections, pool_ids
from devkit.testkit.broker import referral_body
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import Record
from jigsaw.bus.store import Store
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes
from services.broker import state
from services.broker.decide import Decider
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy
from services.broker.processor import BrokerProcessor


@dataclass(frozen=True)
class Shape:
    intel_bytes: int
    outputs: list[tuple[str, int]]  # (topic suffix, bytes) of every record the broker publishes per return

    @property
    def releases(self) -> int:
        return sum(1 for s, _ in self.outputs if s.startswith("jigsaw.release."))

    @property
    def audits(self) -> int:
        return sum(1 for s, _ in self.outputs if s == "jigsaw.audit.v1")


async def shape(registry: SchemaRegistry, deployment: Deployment, tmp: Path) -> Shape:
    """Run the real broker handler on one return to learn the sizes and counts of what it publishes."""
    world, topics, prom = deployment.world, Topics("shape"), CollectorRegistry()
    processor = BrokerProcessor(
        Envelopes(registry, world.directory, world.keys["broker"]),
        Decider(load_policy(deployment.policy)),
        topics,
        BrokerMetrics(prom),
    )
    store = Store(tmp / "shape.sqlite", state.SCHEMA)
    store.open()
    handler = TransactionalHandler(
        store, processor, DeadLetterCodec(registry, "shape"), topics.dlq, KernelMetrics(prom, "shape")
    )
    hub, police, rid = world.party("hub.devon"), world.party("police.devon"), pool_ids("shape", 1)[0]
    assign = {"subscribers": list(SUBSCRIBERS), "action": "ASSIGN", "assigned_by": "b", "assigned_at": 0}
    referral = referral_body("RED")
    intel = police.seal(
        kind="INTEL", referral_id=rid, body=intel_body(), sections=intel_sections(0), recipients=["broker"]
    )
    records = [
        (
            topics.assignments,
            hub.seal(kind="ASSIGNMENT", referral_id=rid, body=assign, sections=[], recipients=[]),
        ),
        (
            topics.referrals,
            hub.seal(kind="REFERRAL", referral_id=rid, body=referral, sections=[], recipients=[]),
        ),
    ]
    for i, (topic, value) in enumerate(records):
        await handler(Record(topic, 0, i, rid.encode(), value))
    store.conn.execute("DELETE FROM kernel_outbox")
    await handler(Record(topics.intel("police"), 0, 0, rid.encode(), intel))
    rows = store.outbox_batch(1000)
    store.close()
    return Shape(len(intel), [(r.topic.removeprefix("shape."), len(r.value)) for r in rows])
