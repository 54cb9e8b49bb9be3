"""The consume loop's lag sampler and readiness check, against a stand-in for aiokafka's consumer. The
real Kafka and Prometheus see the same in tests/integration/test_prometheus.py and tests/e2e/test_demo.py."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from aiokafka import TopicPartition
from aiokafka.errors import KafkaConnectionError
from prometheus_client import CollectorRegistry

from jigsaw.bus import loop as loop_module
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.bus.store import Store
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory

TP0, TP1 = TopicPartition("in", 0), TopicPartition("in", 1)


@dataclass
class _Client:
    """What the sampler reads: the end offsets, and where a partition's position is."""

    ends: dict[TopicPartition, int] = field(default_factory=dict)
    positions: dict[TopicPartition, int] = field(default_factory=dict)
    fail: bool = False

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        if self.fail:
            raise KafkaConnectionError("down")
        return {tp: self.ends[tp] for tp in tps}

    async def position(self, tp: TopicPartition) -> int:
        return self.positions[tp]


async def _handler(record: Record) -> Outcome:
    return COMMIT


def _loop(registry: CollectorRegistry) -> tuple[ConsumeLoop, _Client]:
    loop = ConsumeLoop(
        kafka=KafkaSettings(),
        consumer=ConsumerSettings(group_id="g"),
        topics=["in"],
        handler=_handler,
        metrics=KernelMetrics(registry, "broker"),
    )
    client = _Client()
    loop._consumer.client = client  # type: ignore[assignment]
    return loop, client


def _lag(registry: CollectorRegistry, partition: int) -> float | None:
    labels = {"service": "broker", "topic": "in", "partition": str(partition)}
    return registry.get_sample_value("jigsaw_consumer_lag", labels)


async def _sampled(loop: ConsumeLoop, registry: CollectorRegistry, partition: int, want: float) -> None:
    for _ in range(500):
        if _lag(registry, partition) == want:
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"lag of partition {partition} never became {want}: {_lag(registry, partition)}")


async def test_a_stuck_consumer_s_lag_keeps_growing_without_any_fetch(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(loop_module, "LAG_SAMPLE_S", 0.001)
    registry = CollectorRegistry()
    loop, client = _loop(registry)
    loop._owned = {TP0, TP1}
    loop._next[TP0] = 10  # handled up to 9
    client.positions[TP1] = 0  # nothing handled since the assignment: the consumer's position
    client.ends = {TP0: 10, TP1: 5}
    task = asyncio.create_task(loop._sample_lag())
    try:
        await _sampled(loop, registry, 0, 0)
        await _sampled(loop, registry, 1, 5)
        client.ends = {TP0: 250, TP1: 5}  # the producers go on; nothing is handled
        await _sampled(loop, registry, 0, 240)
        client.fail = True  # Kafka away: counted, and the loop goes on sampling once it is back
        await asyncio.sleep(0.01)
        errors = registry.get_sample_value(
            "jigsaw_consume_errors_total", {"service": "broker", "kind": "KafkaConnectionError"}
        )
        assert errors is not None
        assert errors >= 1
        client.fail = False
        client.ends = {TP0: 300, TP1: 5}
        await _sampled(loop, registry, 0, 290)
        assert not task.done()
    finally:
        loop.stopping.set()
        await asyncio.wait_for(task, 5)


async def test_a_revoked_partition_s_lag_is_no_longer_reported() -> None:
    registry = CollectorRegistry()
    loop, _ = _loop(registry)
    loop._metrics.lag("in", 0, 7)
    await loop._on_revoked([TP0])
    assert _lag(registry, 0) is None


async def test_ready_once_assigned_and_while_fetching_works_even_when_holding_no_partition() -> None:
    loop, _ = _loop(CollectorRegistry())
    assert loop.not_ready() == "not assigned yet (joining the consumer group)"
    await loop._on_assigned([])  # a standby: given its assignment, and it is empty
    assert loop.not_ready() is None
    loop._fetch_error = "KafkaConnectionError"
    assert loop.not_ready() == "fetching from Kafka failed (KafkaConnectionError)"
    loop._fetch_error = None
    await loop._on_assigned([TP0])
    await loop._on_revoked([TP0])  # mid-rebalance: every member holds nothing for a moment
    assert loop.not_ready() is None


def test_a_store_is_ready_only_while_open(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    assert store.not_ready() == f"store {tmp_path / 's.sqlite'} is not open"
    store.open()
    assert store.not_ready() is None
    store.close()
    assert store.not_ready() is not None


def test_the_key_directory_is_ready_once_loaded(registry: SchemaRegistry) -> None:
    from devkit.testkit.wire import make_world

    directory: KeyDirectory = make_world(registry).directory
    follower = KeyDirectoryFollower(
        KafkaSettings(), "keys", directory, KernelMetrics(CollectorRegistry(), "b")
    )
    assert follower.not_ready() == "the key directory is still loading"
    follower.loaded.set()
    assert follower.not_ready() is None
