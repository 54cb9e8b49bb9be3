"""Broker decisions per second, with 4 and with 20 subscribers, in process and through the local Kafka.

    .venv/bin/python -m bench.broker [--n 2000]

Each return has 3 sections (about 1.5 KB sealed) and its referral is at RED, assigned to every subscriber,
so every subscriber gets a decision on every section, a release and an audit record per decision.
In process: the broker's handler with its real store, returns committed in batches of 20 as the consume
loop hands them over (``ConsumerSettings.batch_records``), no Kafka; latencies are per batch. Through Kafka:
the broker service consuming returns that are already on the topic, until its outbox has published every
release and audit record (the time includes its start-up). 20 subscribers: the example policy plus 16
more that share its 4 roles (a temporary copy; each gets its own keys). Writes bench/results/broker.json.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from bench.kit import report
from bench.kit.world import intel_body, intel_sections, pool_ids
from devkit.localkafka import LocalKafka, client_for
from devkit.testkit.broker import POLICY, Rig, referral_body, setup_world
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import Record
from jigsaw.bus.store import Store
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import ConsumerSettings
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes
from services.broker import state
from services.broker.decide import Decider
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy
from services.broker.processor import BrokerProcessor

RESULTS = report.RESULTS / "broker.json"
SECTIONS = 3


def say(text: str) -> None:
    print(f"[broker {time.strftime('%H:%M:%S')}] {text}", flush=True)


def policy_with(subscribers: int, tmp: Path) -> Path:
    """The example policy, with more subscribers sharing its roles when ``subscribers`` > 4."""
    raw = yaml.safe_load(POLICY.read_text())
    base = list(raw["subscribers"].items())
    for i in range(len(base), subscribers):
        name, sub = base[i % len(base)]
        raw["subscribers"][f"{name}-{i:02d}"] = {**sub, "description": f"{sub['description']} ({i})"}
    path = tmp / f"policy-{subscribers}.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def in_process(n: int, policy_path: Path, tmp: Path) -> dict[str, float]:
    registry = SchemaRegistry.load()
    world = setup_world(registry, policy_path)
    policy = load_policy(policy_path)
    subscribers = list(policy.subscribers)
    topics = Topics()
    prom = CollectorRegistry()
    processor = BrokerProcessor(
        Envelopes(registry, world.directory, world.keys["broker"]),
        Decider(policy),
        topics,
        BrokerMetrics(prom),
    )
    store = Store(tmp / f"bench-{len(subscribers)}.sqlite", state.SCHEMA)
    store.open()
    handler = TransactionalHandler(
        store, processor, DeadLetterCodec(registry, "b"), topics.dlq, KernelMetrics(prom, "b")
    )
    hub, police = world.party("hub.devon"), world.party("police.devon")
    pool = pool_ids("broker-bench", max(1, n // 4))
    offset = 0
    for rid in pool:
        assign = {"subscribers": subscribers, "action": "ASSIGN", "assigned_by": "b", "assigned_at": 0}
        # The referral itself, rated RED (nothing is released before it), then the assignment.
        for topic, kind, body in (
            (topics.referrals, "REFERRAL", referral_body("RED")),
            (topics.assignments, "ASSIGNMENT", assign),
        ):
            value = hub.seal(kind=kind, referral_id=rid, body=body, sections=[], recipients=["broker"])
            await handler(Record(topic, 0, offset, rid.encode(), value))
            offset += 1
    returns = []
    for i in range(n):
        rid = pool[i % len(pool)]
        value = police.seal(
            kind="INTEL",
            referral_id=rid,
            body=intel_body(),
            sections=intel_sections(i),
            recipients=["broker"],
        )
        returns.append(Record(topics.intel("police"), 0, i, rid.encode(), value))
    store.conn.execute("DELETE FROM kernel_outbox")
    latencies = []
    t0, c0 = time.perf_counter(), time.process_time()
    batch = ConsumerSettings(group_id="bench").batch_records
    for i in range(0, len(returns), batch):
        s = time.perf_counter()
        await handler.batch(returns[i : i + batch])
        latencies.append(time.perf_counter() - s)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    published = store.conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()[0]
    store.close()
    decisions = n * len(subscribers) * SECTIONS
    return {
        "subscribers": len(subscribers),
        "returns": n,
        "decisions_per_s": round(decisions / elapsed, 1),
        "returns_per_s": round(n / elapsed, 1),
        "cpu_ms_per_return": round(cpu * 1e3 / n, 3),
        "cpu_us_per_decision": round(cpu * 1e6 / decisions, 1),
        "decisions_per_return": decisions / n,
        "records_published_per_return": round(published / n, 2),
        "batch_records": batch,
        "latency_p50_ms": round(statistics.median(latencies) * 1e3, 3),
        "latency_p99_ms": round(statistics.quantiles(latencies, n=100)[98] * 1e3, 3),
    }


async def through_kafka(n: int, policy_path: Path, tmp: Path, bootstrap: str) -> dict[str, float]:
    prefix = f"bench-broker-{uuid.uuid4().hex[:8]}"
    kafka = client_for(bootstrap, topic_prefix=prefix)
    rig = await Rig.create(kafka, Topics(prefix), SchemaRegistry.load(), tmp, policy_path=policy_path)
    subscribers = list(load_policy(policy_path).subscribers)
    pool = pool_ids(prefix, max(1, n // 4))
    for rid in pool:
        await rig.referral(rid, "RED")
        await rig.assign(rid, *subscribers)
    for i in range(n):
        rid = pool[i % len(pool)]
        await rig.send("police.devon", "INTEL", rid, intel_body(), intel_sections(i))
    t0 = time.perf_counter()
    await rig.start()
    await rig.settle(timeout_s=900)
    elapsed = time.perf_counter() - t0
    await rig.close()
    decisions = n * len(subscribers) * SECTIONS
    return {
        "subscribers": len(subscribers),
        "returns": n,
        "decisions_per_s": round(decisions / elapsed, 1),
        "returns_per_s": round(n / elapsed, 1),
        "seconds_incl_startup": round(elapsed, 1),
    }


async def main_async(n: int, bootstrap: str) -> dict[str, Any]:
    rows: dict[str, Any] = {"in_process": [], "through_kafka": []}
    with tempfile.TemporaryDirectory(prefix="jigsaw-broker-") as tmp_s:
        tmp = Path(tmp_s)
        for subs, count in ((4, n), (20, max(1, n // 4))):
            policy = policy_with(subs, tmp)
            say(f"in process: {count} returns, {subs} subscribers")
            rows["in_process"].append(await in_process(count, policy, tmp))
            say(f"through Kafka: {count} returns, {subs} subscribers")
            (tmp / f"k{subs}").mkdir()
            rows["through_kafka"].append(await through_kafka(count, policy, tmp / f"k{subs}", bootstrap))
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000, help="returns with 4 subscribers (a quarter with 20)")
    ap.add_argument("--bootstrap", help="Kafka bootstrap (default: the local Kafka)")
    ap.add_argument("--out", type=Path, default=RESULTS)
    a = ap.parse_args()
    bootstrap = a.bootstrap or str(LocalKafka(progress=lambda _: None).up().bootstrap)
    rows = asyncio.run(main_async(a.n, bootstrap))
    print(f"\nbroker decisions: returns of {SECTIONS} sections at RED, every subscriber assigned\n")
    print(
        f"{'':<14}{'subscribers':>12}{'decisions/s':>13}{'returns/s':>11}{'CPU ms/return':>15}"
        f"{'µs/decision':>13}{'batch p50 ms':>14}{'p99 ms':>9}"
    )
    for r in rows["in_process"]:
        print(
            f"{'in process':<14}{r['subscribers']:>12}{r['decisions_per_s']:>13.0f}"
            f"{r['returns_per_s']:>11.0f}{r['cpu_ms_per_return']:>15.2f}"
            f"{r['cpu_us_per_decision']:>13.0f}{r['latency_p50_ms']:>14.2f}{r['latency_p99_ms']:>9.2f}"
        )
    for r in rows["through_kafka"]:
        print(
            f"{'through Kafka':<14}{r['subscribers']:>12}{r['decisions_per_s']:>13.0f}"
            f"{r['returns_per_s']:>11.0f}  ({r['seconds_incl_startup']:.1f} s for {r['returns']} returns,"
            " incl. start-up)"
        )
    four, twenty = rows["in_process"]
    ratio = twenty["cpu_ms_per_return"] / four["cpu_ms_per_return"]
    print(
        f"\n20 subscribers cost {ratio:.1f}x the CPU per return of 4 ({twenty['cpu_us_per_decision']:.0f}"
        f" vs {four['cpu_us_per_decision']:.0f} µs per decision)"
    )
    path = report.write(a.out, {**report.meta(), **rows})
    print(f"\nwritten to {report.shown(path)}")


if __name__ == "__main__":
    main()
