"""Read a whole topic, up to the end it has now: for audits, rebuilds and tools (not for services)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import NodeNotReadyError
from aiokafka.structs import TopicPartition

from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings
from jigsaw.errors import ConfigError

_TRIES = 10


async def partitions(kafka: KafkaSettings, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        for attempt in range(_TRIES):
            try:
                (described,) = await admin.describe_topics([topic])
                break
            except NodeNotReadyError:
                # The admin client asks a node at random, and on a cluster one may be down: another.
                if attempt == _TRIES - 1:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await admin.close()
    if described["error_code"] != 0:
        raise ConfigError(f"topic {topic} cannot be read (error {described['error_code']})")
    return sorted(p["partition"] for p in described["partitions"])


async def end_offsets(kafka: KafkaSettings, topics: list[str]) -> dict[TopicPartition, int]:
    """Where every partition of ``topics`` ends now: what "caught up" means for a rebuild or a wait."""
    tps = [TopicPartition(t, p) for t in topics for p in await partitions(kafka, t)]
    consumer = AIOKafkaConsumer(**kafka.client_kwargs())
    await consumer.start()
    try:
        ends: dict[TopicPartition, int] = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    return ends


async def read_to_end(kafka: KafkaSettings, topic: str) -> list[Record]:
    """Every record on ``topic`` from the beginning to its current end, partition by partition."""
    tps = [TopicPartition(topic, p) for p in await partitions(kafka, topic)]
    consumer = AIOKafkaConsumer(
        **kafka.client_kwargs(), enable_auto_commit=False, isolation_level="read_committed"
    )
    await consumer.start()
    try:
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[Record] = []
        remaining = {tp for tp in tps if ends[tp] > 0}
        while remaining:
            batch = await consumer.getmany(*remaining, timeout_ms=500)
            for msgs in batch.values():
                out.extend(Record.from_consumer(m) for m in msgs)
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return out
    finally:
        await consumer.stop()
