"""A consume-transform-produce process built only from kernel pieces, for the crash and shutdown tests.

``--mode store``: effectively-once through the store (state + offsets + outbox in one transaction).
``--mode kafka``: Kafka-committed offsets; each processed id is appended to ``--ledger``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import time
from contextlib import AsyncExitStack
from pathlib import Path

from prometheus_client import CollectorRegistry

from devkit.localkafka import client_for
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.records import COMMIT, HEADER_MSG_ID, Outcome, Record
from jigsaw.bus.store import Store, Tx
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import ConsumerSettings
from jigsaw.ids import derived_id
from jigsaw.lifecycle import install_stop_signals
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry

SCHEMA = """
CREATE TABLE IF NOT EXISTS processed (
    topic TEXT, partition INTEGER, offset INTEGER, input_id TEXT, PRIMARY KEY (topic, partition, offset)
);
"""


def make_transform(output: str, delay_s: float):  # type: ignore[no-untyped-def]
    def transform(record: Record, tx: Tx) -> Outcome:
        assert record.value is not None
        input_id = record.value.decode()
        if delay_s:
            time.sleep(delay_s)
        tx.execute(
            "INSERT INTO processed VALUES (?, ?, ?, ?)",
            (record.topic, record.partition, record.offset, input_id),
        )
        out_id = derived_id("ctp", input_id)
        tx.enqueue(
            output,
            f"out:{input_id}".encode(),
            key=record.key,
            headers=[(HEADER_MSG_ID, out_id.encode())],
        )
        return COMMIT

    return transform


async def main(a: argparse.Namespace) -> None:
    kafka = client_for(a.bootstrap)
    consumer = ConsumerSettings(group_id=a.group, shutdown_grace_s=5.0, retry_backoff_s=0.05)
    metrics = KernelMetrics(CollectorRegistry(), "ctp")
    codec = DeadLetterCodec(SchemaRegistry.load(), "ctp")
    stop = asyncio.Event()
    install_stop_signals(stop)
    async with AsyncExitStack() as stack:
        producer = await stack.enter_async_context(Producer(kafka))
        if a.mode == "store":
            store = Store(Path(a.db), SCHEMA)
            store.open()
            stack.callback(store.close)
            outbox = await stack.enter_async_context(OutboxPublisher(store, producer, metrics))
            handler = TransactionalHandler(
                store,
                make_transform(a.output, a.delay_ms / 1000),
                codec,
                a.dlq,
                metrics,
                outbox.notify,
            )
            loop = ConsumeLoop(
                kafka=kafka,
                consumer=consumer,
                topics=[a.input],
                handler=handler,
                metrics=metrics,
                positions=store.offsets,
                stop=stop,
            )
        else:
            ledger = stack.enter_context(Path(a.ledger).open("a", buffering=1))  # noqa: ASYNC230, SIM115

            async def append(record: Record) -> Outcome:
                assert record.value is not None
                await asyncio.sleep(a.delay_ms / 1000)
                ledger.write(record.value.decode() + "\n")
                return COMMIT

            loop = ConsumeLoop(
                kafka=kafka,
                consumer=consumer,
                topics=[a.input],
                handler=append,
                metrics=metrics,
                stop=stop,
                dlq=DeadLetterPublisher(producer, codec, a.dlq, metrics),
            )
        await stack.enter_async_context(loop)
        print("ready", flush=True)
        waiter = asyncio.create_task(stop.wait())
        await asyncio.wait({waiter, asyncio.ensure_future(loop.wait())}, return_when=asyncio.FIRST_COMPLETED)
        with contextlib.suppress(asyncio.CancelledError):
            waiter.cancel()


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--input", required=True)
    p.add_argument("--output", default="")
    p.add_argument("--dlq", required=True)
    p.add_argument("--mode", choices=["store", "kafka"], required=True)
    p.add_argument("--db", default="")
    p.add_argument("--ledger", default="")
    p.add_argument("--delay-ms", type=float, default=0.0)
    asyncio.run(main(p.parse_args()))
