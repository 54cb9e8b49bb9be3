"""The consume loop across a rebalance, at the consumer seam: a batch fetched before a revocation is not
handled after it, even while aiokafka still lists the revoked partition as assigned (it does until the next
assignment arrives, and a store's claim on the partition is gone by then)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka import TopicPartition
from prometheus_client import CollectorRegistry

from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.metrics import KernelMetrics

TP = TopicPartition("in", 0)


@dataclass
class _Msg:
    offset: int
    topic: str = "in"
    partition: int = 0
    key: bytes = b"R-1"
    value: bytes = b"v"
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = 0


@dataclass
class _Lagging:
    """What the loop reads of AIOKafkaConsumer; ``assignment`` keeps the old partitions, as aiokafka's
    does between a revocation and the next assignment."""

    committed: list[dict[TopicPartition, int]] = field(default_factory=list)

    def assignment(self) -> set[TopicPartition]:
        return {TP}

    def highwater(self, tp: TopicPartition) -> int | None:
        return None

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed.append(dict(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None: ...

    async def seek_to_beginning(self, *tps: TopicPartition) -> bool:
        return True


def _loop(seen: list[int]) -> ConsumeLoop:
    async def handler(record: Record) -> Outcome:
        seen.append(record.offset)
        return COMMIT

    loop = ConsumeLoop(
        kafka=KafkaSettings(),
        consumer=ConsumerSettings(group_id="g"),
        topics=["in"],
        handler=handler,
        metrics=KernelMetrics(CollectorRegistry(), "t"),
    )
    loop._consumer.client = _Lagging()  # type: ignore[assignment]
    return loop


async def test_a_batch_fetched_before_a_revocation_is_dropped_though_the_partition_looks_assigned() -> None:
    seen: list[int] = []
    loop = _loop(seen)
    await loop._on_assigned([TP])
    fetched_at = loop._epoch
    await loop._on_revoked([TP])
    messages: list[Any] = [_Msg(0), _Msg(1)]
    await loop._process_partition(TP, messages, fetched_at)
    assert seen == [], "handled for a partition this instance gave up"
    # Not even under the epoch after the revocation: between it and the next assignment nothing is ours.
    await loop._process_partition(TP, messages, loop._epoch)
    assert seen == []


async def test_a_batch_fetched_after_the_next_assignment_is_handled() -> None:
    seen: list[int] = []
    loop = _loop(seen)
    await loop._on_assigned([TP])
    await loop._on_revoked([TP])
    await loop._on_assigned([TP])
    await loop._process_partition(TP, [_Msg(5), _Msg(6)], loop._epoch)
    assert seen == [5, 6]
