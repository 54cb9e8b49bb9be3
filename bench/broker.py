"""Broker decisions per second and decision latency, in process and through the local Kafka.

    .venv/bin/python bench/broker.py [--n 2000]

In process: the broker's handler with its real store, one transaction per return (3 sections, 4
subscribers), no Kafka. Through Kafka: the broker service consuming returns that are already on the topic,
until its outbox has published every release and audit record. Writes bench/results/broker.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry

from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import Record
from jigsaw.bus.store import Store
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import KafkaSettings
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes
from services.broker import state
from services.broker.decide import Decider
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy
from services.broker.processor import BrokerProcessor
from services.localkafka import LocalKafka
from tests.integration.brokerkit import POLICY, Rig, sections, setup_world

RESULTS = Path(__file__).parent / "results" / "broker.json"
CATS = ("identity", "police_incidents", "contact")
SUBSCRIBERS = ("csc-mash", "police-mash", "health-mash", "partner-hub")


def in_process(n: int, tmp: Path) -> dict[str, float]:
    registry = SchemaRegistry.load()
    world = setup_world(registry, POLICY)
    topics = Topics()
    prom = CollectorRegistry()
    processor = BrokerProcessor(
        Envelopes(registry, world.directory, world.keys["broker"]),
        Decider(load_policy(POLICY)),
        topics,
        BrokerMetrics(prom),
    )
    store = Store(tmp / "bench.sqlite", state.SCHEMA)
    store.open()
    handler = TransactionalHandler(
        store, processor, DeadLetterCodec(registry, "b"), topics.dlq, KernelMetrics(prom, "b")
    )
    hub, police = world.party("hub.devon"), world.party("police.devon")
    setup, returns = [], []
    for i in range(n):
        rid = f"R-{i}"
        body = {"subscribers": list(SUBSCRIBERS), "action": "ASSIGN", "assigned_by": "b", "assigned_at": 0}
        setup.append(
            Record(
                topics.assignments,
                0,
                i,
                rid.encode(),
                hub.seal(kind="ASSIGNMENT", referral_id=rid, body=body, sections=[], recipients=[]),
            )
        )
        intel = {
            "enquiry_id": None,
            "agency": "police",
            "unsolicited": False,
            "matches": [],
            "nothing_held_categories": [],
        }
        returns.append(
            Record(
                topics.intel("police"),
                0,
                i,
                rid.encode(),
                police.seal(
                    kind="INTEL", referral_id=rid, body=intel, sections=sections(*CATS), recipients=["broker"]
                ),
            )
        )
    loop = asyncio.new_event_loop()
    for rec in setup:
        loop.run_until_complete(handler(rec))
    latencies = []
    t0 = time.perf_counter()
    for rec in returns:
        s = time.perf_counter()
        loop.run_until_complete(handler(rec))
        latencies.append(time.perf_counter() - s)
    elapsed = time.perf_counter() - t0
    loop.close()
    store.close()
    decisions = n * len(SUBSCRIBERS) * len(CATS)
    return {
        "returns": n,
        "decisions_per_s": decisions / elapsed,
        "returns_per_s": n / elapsed,
        "latency_p50_ms": statistics.median(latencies) * 1e3,
        "latency_p99_ms": statistics.quantiles(latencies, n=100)[98] * 1e3,
    }


async def through_kafka(n: int, tmp: Path, bootstrap: str) -> dict[str, float]:
    prefix = f"bench{uuid.uuid4().hex[:6]}"
    kafka = KafkaSettings(bootstrap=bootstrap, topic_prefix=prefix)
    rig = await Rig.create(kafka, Topics(prefix), SchemaRegistry.load(), tmp)
    for i in range(n):
        await rig.assign(f"R-{i}", *SUBSCRIBERS)
        await rig.intel("police.devon", f"R-{i}", sections(*CATS))
    t0 = time.perf_counter()
    await rig.start()
    await rig.settle(timeout_s=600)
    elapsed = time.perf_counter() - t0
    await rig.close()
    decisions = n * len(SUBSCRIBERS) * len(CATS)
    return {
        "returns": n,
        "decisions_per_s": decisions / elapsed,
        "returns_per_s": n / elapsed,
        "seconds_incl_startup": elapsed,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    n = ap.parse_args().n
    with tempfile.TemporaryDirectory() as tmp:
        local = in_process(n, Path(tmp))
        (Path(tmp) / "k").mkdir()
        bootstrap = str(LocalKafka(progress=lambda _: None).up().bootstrap)
        remote = asyncio.run(through_kafka(n, Path(tmp) / "k", bootstrap))
    print(f"\nbroker decisions: {n} returns x {len(CATS)} sections x {len(SUBSCRIBERS)} subscribers\n")
    print(f"{'':<16}{'decisions/s':>14}{'returns/s':>12}{'p50 ms':>9}{'p99 ms':>9}")
    print(
        f"{'in process':<16}{local['decisions_per_s']:>14.0f}{local['returns_per_s']:>12.0f}"
        f"{local['latency_p50_ms']:>9.2f}{local['latency_p99_ms']:>9.2f}"
    )
    print(
        f"{'through Kafka':<16}{remote['decisions_per_s']:>14.0f}{remote['returns_per_s']:>12.0f}"
        f"{'':>9}{'':>9}  ({remote['seconds_incl_startup']:.1f} s incl. start-up)"
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"in_process": local, "through_kafka": remote}, indent=2))
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
