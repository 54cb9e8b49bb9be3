"""The outbox publisher's backpressure, against a stand-in producer: no Kafka needed."""

from __future__ import annotations

import asyncio
from pathlib import Path

from prometheus_client import CollectorRegistry

from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.store import Store
from jigsaw.metrics import KernelMetrics


class _Producer:
    """Acknowledges each record once ``gate`` is open."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, *_: object) -> asyncio.Future[None]:
        async def ack() -> None:
            await self.gate.wait()
            self.sent.append(value)

        return asyncio.ensure_future(ack())


async def test_room_waits_while_the_backlog_is_over_the_high_water_mark(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.open()
    producer = _Producer()
    outbox = OutboxPublisher(
        store,
        producer,
        KernelMetrics(CollectorRegistry(), "t"),
        batch=5,
        high_water=10,  # type: ignore[arg-type]
    )
    async with outbox:
        with store.transaction() as tx:
            for i in range(30):
                tx.enqueue("out", str(i).encode())
        outbox.notify()
        waiting = asyncio.create_task(outbox.room())
        await asyncio.sleep(0.05)
        assert not waiting.done(), "30 waiting records are over the mark of 10"
        producer.gate.set()
        await asyncio.wait_for(waiting, 5)
        assert store.outbox_span() <= 10
    assert len(producer.sent) == 30, "stopping drains the rest"
    store.close()


async def test_room_does_not_wait_below_the_mark(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.sqlite")
    store.open()
    producer = _Producer()
    async with OutboxPublisher(
        store,
        producer,
        KernelMetrics(CollectorRegistry(), "t"),
        high_water=10,  # type: ignore[arg-type]
    ) as outbox:
        with store.transaction() as tx:
            tx.enqueue("out", b"one")
        await asyncio.wait_for(outbox.room(), 1)
        producer.gate.set()
    store.close()
