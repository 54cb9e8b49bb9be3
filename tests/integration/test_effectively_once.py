"""kill -9 a consume-transform-produce process mid-stream; after a restart every input is in the
output exactly once (after dropping duplicates by msg_id) and the store holds no gap."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from jigsaw.bus.records import HEADER_MSG_ID
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from tests.integration import kafkautil as ku

N = 3000


def _processed(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as conn:
        try:
            return int(conn.execute("SELECT count(*) FROM processed").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


async def test_kill_minus_9_mid_stream_loses_and_duplicates_nothing(
    kafka: KafkaSettings, topics: Topics, tmp_path: Path
) -> None:
    inp, out, dlq = f"{topics.prefix}.in", f"{topics.prefix}.out", topics.dlq
    await ku.create(kafka, inp, out, dlq)
    await ku.produce(kafka, inp, [(f"k{i % 17}".encode(), f"id-{i}".encode()) for i in range(N)])
    db = tmp_path / "ctp.sqlite"
    args = [
        "tests/integration/ctp_worker.py",
        "--bootstrap",
        kafka.bootstrap,
        "--group",
        f"{topics.prefix}-ctp",
        "--input",
        inp,
        "--output",
        out,
        "--dlq",
        dlq,
        "--mode",
        "store",
        "--db",
        str(db),
        "--delay-ms",
        "1",
    ]

    first = ku.Worker(args, tmp_path / "first.log")
    await first.ready()
    await ku.eventually(lambda: _processed(db) >= N // 4, what="a quarter processed")
    first.kill9()
    killed_at = _processed(db)
    assert 0 < killed_at < N, "the kill must land mid-stream"

    second = ku.Worker(args, tmp_path / "second.log")
    await second.ready()
    await ku.eventually(lambda: _processed(db) == N, what="every input processed")
    await ku.eventually(lambda: _outbox_empty(db), what="the outbox drained to Kafka")
    assert second.terminate() == 0, second.output()

    records = await ku.read_all(kafka, out)
    ids = [r.header(HEADER_MSG_ID) for r in records]
    by_id: dict[bytes | None, set[bytes | None]] = {}
    for r in records:
        by_id.setdefault(r.header(HEADER_MSG_ID), set()).add(r.value)
    assert len(by_id) == N, "every input appears in the output"
    assert all(len(values) == 1 for values in by_id.values()), "duplicates are exact copies"
    assert {v for vs in by_id.values() for v in vs} == {f"out:id-{i}".encode() for i in range(N)}
    assert len(ids) - N <= 500, "at most one unacknowledged outbox batch is re-sent"

    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT partition, offset FROM processed ORDER BY 1, 2").fetchall()
        offsets = dict(conn.execute("SELECT partition, next_offset FROM kernel_offsets").fetchall())
    per_partition: dict[int, list[int]] = {}
    for p, o in rows:
        per_partition.setdefault(p, []).append(o)
    for p, seen in per_partition.items():
        assert seen == list(range(len(seen))), f"partition {p} has a gap or a repeat"
        assert offsets[p] == len(seen)


def _outbox_empty(db: Path) -> bool:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()[0]) == 0
