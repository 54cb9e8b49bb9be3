"""Idempotent produce and consume, the DLQ path and broker errors, through the real Kafka."""

from __future__ import annotations

from aiokafka.structs import TopicPartition
from prometheus_client import CollectorRegistry

from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Outcome, Record, RetryLater
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import DeadLetterReason, RejectedInput
from jigsaw.lifecycle import ClosedError
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration import kafkautil as ku


async def test_idempotent_producer_round_trip_keeps_per_key_order(
    kafka: KafkaSettings, topics: Topics
) -> None:
    topic = f"{topics.prefix}.rt"
    await ku.create(kafka, topic)
    items = [(f"R-{i % 7}".encode(), f"{i % 7}:{i}".encode()) for i in range(700)]
    await ku.produce(kafka, topic, items)

    records = await ku.read_all(kafka, topic)

    assert sorted(r.value for r in records) == sorted(v for _, v in items)
    for key in {k for k, _ in items}:
        seq = [int(r.value.split(b":")[1]) for r in records if r.key == key]  # type: ignore[union-attr]
        assert seq == sorted(seq), "one key stays on one partition, in order"


async def test_producer_lifecycle_is_idempotent_and_not_reusable(kafka: KafkaSettings) -> None:
    producer = Producer(kafka)
    async with producer:
        assert producer.started
    await producer.stop()
    try:
        await producer.start()
    except ClosedError:
        pass
    else:
        raise AssertionError("a stopped producer must not start again")


async def test_rejected_input_goes_to_the_dlq_and_the_loop_keeps_going(
    kafka: KafkaSettings, topics: Topics, group: ConsumerSettings, registry: SchemaRegistry
) -> None:
    topic = f"{topics.prefix}.in"
    await ku.create(kafka, topic, topics.dlq)
    values = [b"good-1", b"bad-2", b"good-3", b"good-4"]
    await ku.produce(kafka, topic, [(b"R-1", v) for v in values])
    seen: list[bytes] = []
    attempts: dict[bytes, int] = {}

    async def handler(record: Record) -> Outcome:
        assert record.value is not None
        attempts[record.value] = attempts.get(record.value, 0) + 1
        if record.value.startswith(b"bad"):
            raise RejectedInput("value failed validation")
        if record.value == b"good-3" and attempts[record.value] == 1:
            return RetryLater("downstream busy")
        seen.append(record.value)
        return COMMIT

    reg = CollectorRegistry()
    metrics = KernelMetrics(reg, "test")
    codec = DeadLetterCodec(registry, "test")
    async with Producer(kafka) as producer:
        dlq = DeadLetterPublisher(producer, codec, topics.dlq, metrics)
        loop = ConsumeLoop(
            kafka=kafka, consumer=group, topics=[topic], handler=handler, metrics=metrics, dlq=dlq
        )
        async with loop:
            await ku.eventually(lambda: len(seen) == 3, what="the good records handled")

    assert seen == [b"good-1", b"good-3", b"good-4"], "order survives a retry"
    assert attempts[b"good-3"] == 2
    letters = await ku.read_all(kafka, topics.dlq)
    assert len(letters) == 1
    letter = codec.decode(letters[0].value)  # type: ignore[arg-type]
    assert letter["reason"] == DeadLetterReason.HANDLER_REJECTED.value
    assert letter["source_offset"] == 1
    assert letter["original"] == b"bad-2"
    assert (
        reg.get_sample_value("jigsaw_dead_letters_total", {"service": "test", "reason": "HANDLER_REJECTED"})
        == 1
    )
    # The committed offset is past everything, so a restart would not replay the batch.
    probe = ConsumeLoop(
        kafka=kafka,
        consumer=group,
        topics=[topic],
        handler=handler,
        metrics=KernelMetrics(CollectorRegistry(), "probe"),
    )
    async with probe:
        await ku.eventually(probe.assigned.is_set, what="partitions assigned")
        client = probe._consumer.client
        assert client is not None
        committed = [await client.committed(TopicPartition(topic, p)) for p in range(3)]
    assert sum(c or 0 for c in committed) == len(values)
