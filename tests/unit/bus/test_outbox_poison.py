"""One row cannot wedge the outbox, and a publisher that dies says so: no Kafka needed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from prometheus_client import CollectorRegistry

from jigsaw.bus.clients import RefusedRecord
from jigsaw.bus.outbox import OutboxPublisher, parked
from jigsaw.bus.store import Store
from jigsaw.errors import FatalError
from jigsaw.metrics import KernelMetrics

Refuse = Callable[[str, bytes], BaseException | None]


class _Producer:
    """Acknowledges what ``at_send`` lets through; what it refuses raises from send() itself, as aiokafka
    does for a record too large."""

    def __init__(self, at_send: Refuse = lambda *_: None) -> None:
        self.at_send = at_send
        self.sent: list[bytes] = []

    async def send(self, topic: str, value: bytes, *_: object) -> asyncio.Future[None]:
        refused = self.at_send(topic, value)
        if refused is not None:
            raise refused

        async def ack() -> None:
            self.sent.append(value)

        return asyncio.ensure_future(ack())


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite")
    s.open()
    yield s  # type: ignore[misc]
    s.close()


def _enqueue(store: Store, *values: bytes, topic: str = "out") -> None:
    with store.transaction() as tx:
        for v in values:
            tx.enqueue(topic, v)


def _publisher(store: Store, producer: _Producer, reg: CollectorRegistry, **kw: object) -> OutboxPublisher:
    return OutboxPublisher(
        store,
        producer,  # type: ignore[arg-type]
        KernelMetrics(reg, "t"),
        idle_s=0.01,
        backoff_s=0.01,
        **kw,  # type: ignore[arg-type]
    )


async def _drained(store: Store) -> None:
    while store.outbox_span():  # noqa: ASYNC110 - the store has no event to wait on
        await asyncio.sleep(0.01)


async def test_a_row_refused_at_send_is_parked_and_the_rows_behind_it_go_on(store: Store) -> None:
    def at_send(topic: str, value: bytes) -> BaseException | None:
        if value == b"huge":
            return MessageSizeTooLargeError()
        return RefusedRecord(f"{topic} has no partition 7") if value == b"pinned" else None

    producer, reg = _Producer(at_send), CollectorRegistry()
    _enqueue(store, b"one", b"huge", b"two", b"pinned", b"three")
    async with _publisher(store, producer, reg):
        await asyncio.wait_for(_drained(store), 10)
    assert producer.sent == [b"one", b"two", b"three"]
    assert [(p.seq, p.error, p.value_bytes) for p in parked(store)] == [
        (2, "MessageSizeTooLargeError", 4),
        (4, "RefusedRecord", 6),
    ]
    value = store.conn.execute("SELECT value FROM kernel_outbox_parked WHERE seq = 2").fetchone()[0]
    assert value == b"huge", "a parked row keeps its bytes, for re-driving once the cause is fixed"
    labels = {"service": "t", "error": "MessageSizeTooLargeError"}
    assert reg.get_sample_value("jigsaw_outbox_parked_total", labels) == 1


class _SizeLimitedBroker:
    """Like a broker with a size limit: a batch that holds a record too large fails as a whole."""

    def __init__(self) -> None:
        self.window: list[bytes] = []
        self.sent: list[bytes] = []
        self.resets = 0

    async def reset(self) -> None:
        self.resets += 1

    async def send(self, topic: str, value: bytes, *_: object) -> asyncio.Future[None]:
        window = self.window
        window.append(value)

        async def ack() -> None:
            # The outbox sends a whole batch before it awaits any acknowledgement: this is that batch.
            if self.window is window:
                self.window = []
            if b"huge" in window:
                raise MessageSizeTooLargeError()
            self.sent.append(value)

        return asyncio.ensure_future(ack())


async def test_a_batch_kafka_refuses_is_resent_a_row_at_a_time_and_only_the_bad_row_is_parked(
    store: Store,
) -> None:
    broker = _SizeLimitedBroker()
    _enqueue(store, b"a", b"huge", b"b", b"c")
    async with _publisher(store, broker, CollectorRegistry()):  # type: ignore[arg-type]
        await asyncio.wait_for(_drained(store), 10)
    assert broker.sent == [b"a", b"b", b"c"], "the good rows of the refused batch go out, in order"
    assert [p.seq for p in parked(store)] == [2]
    assert broker.resets >= 1, "a broker's refusal breaks the producer's sequence: a fresh one goes on"


async def test_a_transient_error_keeps_the_row_in_place(store: Store) -> None:
    failures = [KafkaConnectionError(), KafkaConnectionError()]
    producer = _Producer(lambda *_: failures.pop() if failures else None)
    _enqueue(store, b"one", b"two")
    async with _publisher(store, producer, CollectorRegistry()):
        await asyncio.wait_for(_drained(store), 10)
    assert producer.sent == [b"one", b"two"]
    assert parked(store) == []


async def test_an_unexpected_error_restarts_the_publisher(store: Store) -> None:
    failures = [ValueError("a bug"), ValueError("a bug")]
    producer, reg = _Producer(lambda *_: failures.pop() if failures else None), CollectorRegistry()
    _enqueue(store, b"one")
    async with _publisher(store, producer, reg) as outbox:
        await asyncio.wait_for(_drained(store), 10)
        outbox.notify()  # still alive: no error
    assert producer.sent == [b"one"]
    assert reg.get_sample_value("jigsaw_task_restarts_total", {"service": "t", "task": "outbox"}) == 2


async def test_a_publisher_that_fails_for_good_fails_room_notify_and_wait(store: Store) -> None:
    producer, reg = _Producer(lambda *_: ValueError("a bug")), CollectorRegistry()
    _enqueue(store, *[str(i).encode() for i in range(30)])
    outbox = _publisher(store, producer, reg, high_water=10, give_up_after=3)
    async with outbox:
        with pytest.raises(FatalError, match="outbox task failed 3 times"):
            await asyncio.wait_for(outbox.wait(), 10)
        with pytest.raises(FatalError):
            await outbox.room()  # it used to return at once, turning backpressure off without a word
        with pytest.raises(FatalError):
            outbox.notify()
    assert reg.get_sample_value("jigsaw_task_up", {"service": "t", "task": "outbox"}) == 0
    assert store.outbox_span() == 30, "nothing is lost: the rows wait for the next start"


async def test_room_fails_while_it_waits_when_the_publisher_fails(store: Store) -> None:
    producer = _Producer(lambda *_: ValueError("a bug"))
    _enqueue(store, *[str(i).encode() for i in range(30)])
    outbox = _publisher(store, producer, CollectorRegistry(), high_water=10, give_up_after=3)
    async with outbox:
        with pytest.raises(FatalError):
            await asyncio.wait_for(outbox.room(), 10)
