"""`jigsaw kafka up | down` on a second, private broker: idempotent up, clean down, recovery after the
JVM is killed by hand, and a consume loop that rides out the outage without losing a record."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from devkit.localkafka import LocalKafka, LocalKafkaSettings
from devkit.localkafka.manager import _alive
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.config import ConsumerSettings
from jigsaw.errors import KafkaLocalError
from jigsaw.metrics import KernelMetrics
from tests.integration import kafkautil as ku

pytestmark = pytest.mark.usefixtures("collect_broken_connections")


def _kafka_jvms() -> set[int]:
    pids = set()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            if b"kafka.Kafka" in cmd:
                pids.add(int(proc.name))
    return {p for p in pids if _alive(p)}


@pytest.fixture
def private(tmp_path: Path) -> Iterator[LocalKafka]:
    lk = LocalKafka(LocalKafkaSettings(home=tmp_path / "kafka", heap_mb=256), progress=print)
    yield lk
    lk.down()


async def test_up_is_idempotent_down_leaves_no_jvm_and_a_killed_jvm_recovers(
    private: LocalKafka,
) -> None:
    before = _kafka_jvms()
    # LocalKafka is a blocking API (it backs the CLI); keep it off this test's event loop.
    first = await asyncio.to_thread(private.up)
    second = await asyncio.to_thread(private.up)
    assert first.pid == second.pid
    assert first.bootstrap == second.bootstrap
    assert _kafka_jvms() - before == {first.pid}, "two `up`s give one broker"
    assert first.bootstrap is not None

    kafka = private.client(request_timeout_ms=5000)
    topic = "outage"
    await ku.create(kafka, topic, partitions=2)
    seen: set[bytes] = set()

    async def handler(record: Record) -> Outcome:
        assert record.value is not None
        seen.add(record.value)
        return COMMIT

    loop = ConsumeLoop(
        kafka=kafka,
        consumer=ConsumerSettings(group_id="g", retry_backoff_s=0.1),
        topics=[topic],
        handler=handler,
        metrics=KernelMetrics(CollectorRegistry(), "t"),
    )
    async with loop:
        await ku.produce(kafka, topic, [(b"k", f"before-{i}".encode()) for i in range(50)])
        await ku.eventually(lambda: len(seen) == 50, what="records before the outage")

        assert first.pid is not None
        os.kill(first.pid, signal.SIGKILL)  # the JVM dies under a running consumer
        await ku.eventually(lambda: not _alive(first.pid), what="the JVM gone")  # type: ignore[arg-type]
        assert not (await asyncio.to_thread(private.status)).running

        again = await asyncio.to_thread(private.up)
        assert again.pid != first.pid
        assert again.bootstrap == first.bootstrap, "the port is kept across restarts"
        await ku.produce(kafka, topic, [(b"k", f"after-{i}".encode()) for i in range(50)])
        await ku.eventually(lambda: len(seen) == 100, timeout_s=120, what="records after recovery")

    assert seen == {f"{w}-{i}".encode() for w in ("before", "after") for i in range(50)}
    assert await asyncio.to_thread(private.down)
    assert _kafka_jvms() - before == set(), "down leaves no JVM behind"
    assert not await asyncio.to_thread(private.down), "a second down finds nothing to stop"


def test_a_taken_port_gets_an_error_that_says_what_to_do(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        lk = LocalKafka(LocalKafkaSettings(home=tmp_path / "k", port=port), progress=print)
        with pytest.raises(KafkaLocalError, match="JIGSAW_LOCALKAFKA__PORT"):
            lk.up()
