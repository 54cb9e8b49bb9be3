"""aiokafka 0.14's transactional consume-transform-produce against the local Kafka 4.0.

The services do not depend on this path (docs/architecture.md, "Exactly once"); this test records what
it does on the happy path and after an abort, so a change in either library shows up here.
"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition

from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from tests.integration import kafkautil as ku

N = 300


async def _transform(kafka: KafkaSettings, inp: str, out: str, group: str, abort_first: bool) -> int:
    producer = AIOKafkaProducer(
        **kafka.client_kwargs(), transactional_id=f"{group}-tx", enable_idempotence=True
    )
    consumer = AIOKafkaConsumer(
        inp,
        **kafka.client_kwargs(),
        group_id=group,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await producer.start()
    await consumer.start()
    done = 0
    aborted = not abort_first
    try:
        while done < N:
            batch = await consumer.getmany(timeout_ms=1000)
            if not batch:
                continue
            if not aborted:
                # Produce, then abort: nothing of this batch may become visible, and the consumer
                # must rewind to the committed offsets itself (aiokafka does not, KAFKA-17582).
                await producer.begin_transaction()
                for msgs in batch.values():
                    for m in msgs:
                        await producer.send(out, m.value, key=m.key)
                await producer.abort_transaction()
                aborted = True
                for tp in batch:
                    committed = await consumer.committed(tp)
                    consumer.seek(tp, committed or 0)
                continue
            async with producer.transaction():
                offsets = {}
                for tp, msgs in batch.items():
                    for m in msgs:
                        await producer.send(out, b"out:" + m.value, key=m.key)
                    offsets[tp] = msgs[-1].offset + 1
                    done += len(msgs)
                await producer.send_offsets_to_transaction(offsets, group)
    finally:
        await consumer.stop()
        await producer.stop()
    return done


async def test_transactional_consume_transform_produce(kafka: KafkaSettings, topics: Topics) -> None:
    inp, out = f"{topics.prefix}.txin", f"{topics.prefix}.txout"
    await ku.create(kafka, inp, out, partitions=2)
    await ku.produce(kafka, inp, [(f"k{i % 3}".encode(), f"v{i}".encode()) for i in range(N)])
    group = f"{topics.prefix}-tx"

    assert await _transform(kafka, inp, out, group, abort_first=True) == N

    records = await ku.read_all(kafka, out)
    assert sorted(r.value for r in records) == sorted(f"out:v{i}".encode() for i in range(N))
    check = AIOKafkaConsumer(**kafka.client_kwargs(), group_id=group)
    await check.start()
    try:
        committed = [await check.committed(TopicPartition(inp, p)) for p in range(2)]
    finally:
        await check.stop()
    assert sum(c or 0 for c in committed) == N
