"""The plain baseline: the same hops as Jigsaw with plain aiokafka, no crypto and no policy.

    python -m bench.kit.plain source --rate R --warmup W --duration D [--burst N] | --preload N ...
    python -m bench.kit.plain relay --outputs JSON ...
    python -m bench.kit.plain sink --updates FILE ...

``source`` produces one record per return, of the sealed return's size, keyed by referral. ``relay`` consumes
them and, for each, produces the records the broker produces for one return, with the same sizes and counts
(releases for every subscriber and the audit records). ``sink`` consumes one subscriber's releases and writes,
per record, the case rows in one SQLite transaction (WAL, synchronous=NORMAL, like the hub's store), then
notes the time. Producers use the settings Jigsaw's use (idempotent, acks=all, linger 2 ms, 256 KiB batches);
consumers use aiokafka's defaults with auto-commit, as a plain pipeline would. The source follows the protocol
of ``bench.kit.connector`` (ready, go, done) and the sink that of ``bench.kit.hub`` (ready, updates file).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sqlite3
import time
from pathlib import Path

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from bench.kit.load import Log, drive
from bench.kit.world import pool_ids
from devkit.localkafka import client_for
from jigsaw.bus.clients import PRODUCER_BATCH_BYTES
from jigsaw.lifecycle import install_stop_signals

INPUT = "jigsaw.intel.police.v1"  # the topic names Jigsaw's would have, under the run's prefix
SINK_SCHEMA = """
CREATE TABLE IF NOT EXISTS sections (
    referral_id TEXT NOT NULL, seq INTEGER NOT NULL, part INTEGER NOT NULL, payload BLOB NOT NULL,
    created_at INTEGER NOT NULL, PRIMARY KEY (referral_id, seq, part)
);
CREATE TABLE IF NOT EXISTS cases (referral_id TEXT PRIMARY KEY, updated_at INTEGER NOT NULL);
"""


def _transport(a: argparse.Namespace) -> dict[str, object]:
    # The same sign-in as the pipeline (SCRAM over TLS on the secured node): only Jigsaw's work differs.
    kw = client_for(a.bootstrap).client_kwargs()
    kw.pop("client_id")
    return kw


def producer(a: argparse.Namespace) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        **_transport(a),
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=PRODUCER_BATCH_BYTES,
        client_id=a.prefix,
    )


def consumer(a: argparse.Namespace, topic: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        **_transport(a),
        group_id=f"{a.prefix}-{group}",
        auto_offset_reset="earliest",
        max_poll_records=500,
        client_id=a.prefix,
    )


async def source(a: argparse.Namespace, stop: asyncio.Event) -> None:
    pool = pool_ids(a.prefix, a.pool)
    values = [os.urandom(a.size) for _ in range(16)]
    topic = f"{a.prefix}.{INPUT}"
    log: Log = []
    prod = producer(a)
    await prod.start()
    try:
        pending: list[asyncio.Future[object]] = []

        async def send(phase: str) -> None:
            i = len(log)
            rid = pool[-1] if phase == "b" else pool[i % len(pool)]  # as bench.kit.connector does
            t0 = time.time_ns()
            pending.append(await prod.send(topic, values[i % len(values)], key=rid.encode()))
            log.append((rid, t0, phase))

        async def drained() -> None:
            await asyncio.gather(*pending)

        await drive(a, log, send, drained, stop)
        await stop.wait()
    finally:
        await prod.stop()


async def relay(a: argparse.Namespace, stop: asyncio.Event) -> None:
    outputs = [(f"{a.prefix}.{suffix}", os.urandom(size)) for suffix, size in json.loads(a.outputs)]
    cons = consumer(a, f"{a.prefix}.{INPUT}", "relay")
    prod = producer(a)
    await prod.start()
    await cons.start()
    announced = False
    try:
        while not stop.is_set():
            batches = await cons.getmany(timeout_ms=200, max_records=500)
            if not announced and cons.assignment():
                print("ready", flush=True)
                announced = True
            for messages in batches.values():
                for m in messages:
                    for topic, value in outputs:
                        await prod.send(topic, value, key=m.key)
    finally:
        await cons.stop()
        await prod.stop()


async def sink(a: argparse.Namespace, stop: asyncio.Event) -> None:
    db = sqlite3.connect(a.db, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SINK_SCHEMA)
    cons = consumer(a, f"{a.prefix}.jigsaw.release.{a.subscriber}.v1", "sink")
    await cons.start()
    updates: list[tuple[str, int, int]] = []

    def flush() -> None:
        batch = updates[:]
        del updates[: len(batch)]
        with a.updates.open("a") as f:
            f.writelines(f"{rid} {ns} {ms}\n" for rid, ns, ms in batch)

    async def flusher() -> None:
        while True:
            await asyncio.sleep(0.2)
            flush()

    task = asyncio.create_task(flusher())
    announced = False
    try:
        while not stop.is_set():
            batches = await cons.getmany(timeout_ms=200, max_records=500)
            if not announced and cons.assignment():
                print("ready 0", flush=True)
                announced = True
            for messages in batches.values():
                for m in messages:
                    rid, value, third = m.key.decode(), m.value, len(m.value) // 3 + 1
                    db.execute("BEGIN IMMEDIATE")
                    for part in range(3):
                        db.execute(
                            "INSERT OR REPLACE INTO sections VALUES (?, ?, ?, ?, ?)",
                            (rid, m.offset, part, value[part * third : (part + 1) * third], m.timestamp),
                        )
                    db.execute("INSERT OR REPLACE INTO cases VALUES (?, ?)", (rid, m.timestamp))
                    db.execute("COMMIT")
                    updates.append((rid, time.time_ns(), m.timestamp))
    finally:
        task.cancel()
        flush()
        await cons.stop()
        db.close()


async def main(a: argparse.Namespace) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    await {"source": source, "relay": relay, "sink": sink}[a.role](a, stop)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["source", "relay", "sink"])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--pool", type=int, default=1)
    ap.add_argument("--size", type=int, default=1500)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--warmup", type=float, default=0)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--preload", type=int, default=0)
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--burst-gap", type=float, default=2.0)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--outputs", default="[]")
    ap.add_argument("--subscriber", default="csc-mash")
    ap.add_argument("--updates", type=Path)
    ap.add_argument("--db", type=Path)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main(ap.parse_args()))
