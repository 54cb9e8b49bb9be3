"""SIGTERM mid-stream: the worker stops fetching, finishes in-flight work, commits and exits 0; after a
restart every input has been processed exactly once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from tests.integration import kafkautil as ku

N = 1500


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


async def test_sigterm_drains_commits_and_exits_without_loss_or_repeat(
    kafka: KafkaSettings, topics: Topics, tmp_path: Path
) -> None:
    inp = f"{topics.prefix}.in"
    await ku.create(kafka, inp, topics.dlq)
    await ku.produce(kafka, inp, [(f"k{i % 5}".encode(), f"id-{i}".encode()) for i in range(N)])
    ledger = tmp_path / "ledger.txt"
    args = [
        "tests/integration/ctp_worker.py",
        "--bootstrap",
        kafka.bootstrap,
        "--group",
        f"{topics.prefix}-g",
        "--input",
        inp,
        "--dlq",
        topics.dlq,
        "--mode",
        "kafka",
        "--ledger",
        str(ledger),
        "--delay-ms",
        "2",
    ]

    first = ku.Worker(args, tmp_path / "first.log")
    await first.ready()
    await ku.eventually(lambda: len(_lines(ledger)) >= N // 5, what="a fifth processed")
    assert first.terminate() == 0, first.output()
    stopped_at = len(_lines(ledger))
    assert stopped_at < N, "the stop must land mid-stream"

    second = ku.Worker(args, tmp_path / "second.log")
    await second.ready()
    await ku.eventually(lambda: len(_lines(ledger)) >= N, what="every input processed")
    assert second.terminate() == 0, second.output()

    counts = Counter(_lines(ledger))
    assert set(counts) == {f"id-{i}" for i in range(N)}
    assert max(counts.values()) == 1, "nothing processed twice"
