"""Poison is contained, through the real Kafka: a huge record ends as a small dead letter and the loop goes
on (and a restart does not stop again), an outbox row Kafka refuses for good is parked while the rows
behind it publish, and a topic with the wrong partition count fails start-up with the numbers."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher, parked
from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.bus.store import Store, Tx
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import ConfigError, PayloadInvalid
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import TopicName, Topics, TopicSpec
from jigsaw.wire.codec import SchemaRegistry
from tests.integration import kafkautil as ku

BIG_TOPIC_BYTES = 4 * 1024 * 1024
HUGE_KEY = b"R-" + b"k" * 900_000
HUGE_VALUE = b"\xc3\x01" + b"v" * 900_000


def _values(records: list[Record]) -> list[bytes]:
    return [r.value or b"" for r in records]


@asynccontextmanager
async def _service(
    kafka: KafkaSettings, group: ConsumerSettings, store_path: Path, inp: str, out: str, dlq: str
) -> AsyncIterator[asyncio.Future[None]]:
    """A consume-transform-produce service on the store path, as the broker and the hub are wired."""

    def transform(record: Record, tx: Tx) -> Outcome:
        if not (record.value or b"").startswith(b"good"):
            raise PayloadInvalid("not a record this service reads")
        tx.enqueue(out, b"out:" + (record.value or b""), key=record.key)
        return COMMIT

    metrics = KernelMetrics(CollectorRegistry(), "poison")
    codec = DeadLetterCodec(SchemaRegistry.load(max_record_bytes=kafka.max_record_bytes), "poison")
    async with AsyncExitStack() as stack:
        store = Store(store_path)
        store.open()
        stack.callback(store.close)
        producer = await stack.enter_async_context(Producer(kafka))
        outbox = await stack.enter_async_context(OutboxPublisher(store, producer, metrics))
        handler = TransactionalHandler(store, transform, codec, dlq, metrics, outbox.notify, room=outbox.room)
        loop = ConsumeLoop(
            kafka=kafka,
            consumer=group,
            topics=[inp],
            handler=handler,
            metrics=metrics,
            positions=store.offsets,
        )
        await stack.enter_async_context(loop)
        running = asyncio.ensure_future(loop.wait())
        try:
            yield running
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running


async def test_a_huge_record_ends_as_a_small_dead_letter_and_the_loop_goes_on(
    kafka: KafkaSettings, topics: Topics, group: ConsumerSettings, tmp_path: Path
) -> None:
    inp, out, dlq = f"{topics.prefix}.in", f"{topics.prefix}.out", topics.dlq
    specs = [
        TopicSpec(TopicName(inp), 1, {"max.message.bytes": str(BIG_TOPIC_BYTES)}),
        TopicSpec(TopicName(out), 1),
        TopicSpec(dlq, 1),
    ]
    await ensure_topics(kafka, specs)
    async with Producer(kafka, max_request_size=BIG_TOPIC_BYTES) as producer:
        await producer.send_and_wait(inp, HUGE_VALUE, key=HUGE_KEY)
        await producer.send_and_wait(inp, b"good-1", key=b"R-1")
    codec = DeadLetterCodec(SchemaRegistry.load(), "t")

    async with _service(kafka, group, tmp_path / "s.sqlite", inp, out, dlq) as running:
        await ku.eventually(
            lambda: _outputs(kafka, out, {b"out:good-1"}),
            what="the good record after the poison is processed",
        )
        await ku.eventually(lambda: _count(kafka, dlq, 1), what="the poison is dead-lettered")
        assert not running.done(), "the loop keeps running"

    (record,) = await ku.read_all(kafka, dlq)
    assert len(record.value or b"") < 4096, "a small dead letter"
    assert len(record.key or b"") < 100, "under a small key"
    letter = codec.decode(record.value or b"")
    assert letter["reason"] == "OVERSIZED"
    assert (letter["source_topic"], letter["source_offset"]) == (inp, 0)
    assert letter["detail"].startswith(f"key is {len(HUGE_KEY)} bytes, limit 1024")
    assert f"value truncated to 1024 of {len(HUGE_VALUE)} bytes, sha256=" in letter["detail"]

    # A restart resumes after the poison: it is neither dead-lettered again nor able to stop the loop.
    async with Producer(kafka) as producer:
        await producer.send_and_wait(inp, b"good-2", key=b"R-2")
    async with _service(kafka, group, tmp_path / "s.sqlite", inp, out, dlq) as running:
        await ku.eventually(
            lambda: _outputs(kafka, out, {b"out:good-1", b"out:good-2"}), what="the restart goes on"
        )
        assert not running.done()
    assert len(await ku.read_all(kafka, dlq)) == 1


async def _outputs(kafka: KafkaSettings, topic: str, expected: set[bytes]) -> bool:
    return set(_values(await ku.read_all(kafka, topic))) == expected


async def _count(kafka: KafkaSettings, topic: str, n: int) -> bool:
    return len(await ku.read_all(kafka, topic)) == n


async def test_an_outbox_row_kafka_refuses_for_good_is_parked_and_later_rows_publish(
    kafka: KafkaSettings, topics: Topics, tmp_path: Path
) -> None:
    out, small = f"{topics.prefix}.out", f"{topics.prefix}.small"
    await ensure_topics(
        kafka, [TopicSpec(TopicName(out), 1), TopicSpec(TopicName(small), 1, {"max.message.bytes": "2000"})]
    )
    store = Store(tmp_path / "s.sqlite")
    store.open()
    with store.transaction() as tx:
        tx.enqueue(out, b"one", key=b"R-1")
        tx.enqueue(out, b"x" * (2 * kafka.max_message_bytes), key=b"R-1")  # larger than any request
        tx.enqueue(out, b"pinned", partition=5)  # the topic has one partition
        tx.enqueue("not a topic!", b"nowhere")
        tx.enqueue(small, b"fits", key=b"R-2")
        tx.enqueue(small, b"y" * 3000, key=b"R-2")  # under our limit, over the topic's: the broker refuses
        tx.enqueue(small, b"fits too", key=b"R-2")
        tx.enqueue(out, b"two", key=b"R-1")
    metrics = KernelMetrics(CollectorRegistry(), "t")
    async with Producer(kafka) as producer, OutboxPublisher(store, producer, metrics, backoff_s=0.05):
        await ku.eventually(lambda: store.outbox_span() == 0, what="the outbox drains past the refused rows")
    assert _values(await ku.read_all(kafka, out)) == [b"one", b"two"]
    assert _values(await ku.read_all(kafka, small)) == [b"fits", b"fits too"]
    assert [(p.seq, p.error) for p in parked(store)] == [
        (2, "MessageSizeTooLargeError"),
        (3, "RefusedRecord"),
        (4, "RefusedRecord"),
        (6, "MessageSizeTooLargeError"),
    ]
    store.close()


async def test_a_topic_with_the_wrong_partition_count_fails_start_up_naming_it(
    kafka: KafkaSettings, topics: Topics
) -> None:
    await ensure_topics(kafka, [TopicSpec(topics.referrals, 1)])
    specs = topics.specs(["police"], ["csc"], partitions=3)
    with pytest.raises(ConfigError, match=re.escape(f"{topics.referrals} has 1 partitions, expected 3")):
        await ensure_topics(kafka, specs)
    others = [s for s in specs if s.name != topics.referrals]
    assert topics.audit in await ensure_topics(kafka, others), "nothing was created before the error"
    assert await ensure_topics(kafka, others) == [], "existing topics with the right counts pass"
