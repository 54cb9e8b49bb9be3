"""Helpers for tests that read and write real topics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from devkit.testkit.waiting import eventually
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.clients import Producer
from jigsaw.bus.reader import read_to_end
from jigsaw.bus.records import Record
from jigsaw.config import KafkaSettings
from jigsaw.topics import TopicSpec

REPO = Path(__file__).resolve().parents[2]


async def create(kafka: KafkaSettings, *names: str, partitions: int = 3) -> None:
    await ensure_topics(kafka, [TopicSpec(n, partitions) for n in names])  # type: ignore[arg-type]


async def produce(kafka: KafkaSettings, topic: str, items: Sequence[tuple[bytes, bytes]]) -> None:
    async with Producer(kafka) as producer:
        futures = [await producer.send(topic, value, key=key) for key, value in items]
        await asyncio.gather(*futures)


async def produce_records(kafka: KafkaSettings, topic: str, records: Sequence[Record]) -> None:
    """Copy records to ``topic``, each to the partition it came from."""
    async with Producer(kafka) as producer:
        for r in records:
            await producer.send_and_wait(topic, r.value or b"", key=r.key, partition=r.partition)


async def read_all(kafka: KafkaSettings, topic: str) -> list[Record]:
    return await read_to_end(kafka, topic)


class Worker:
    """A child process whose output goes to a file (a pipe nobody reads could block it)."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.log = log
        env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, *args], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def ready(self, marker: str = "ready", timeout_s: float = 60.0) -> None:
        def check() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited ({self.proc.returncode}):\n{self.output()}")
            return any(marker in line for line in self.output().splitlines())

        await eventually(check, timeout_s, "worker ready")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def terminate(self, timeout_s: float = 60.0) -> int:
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=timeout_s)
