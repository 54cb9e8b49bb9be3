"""A connector's publishing path, driven at a set rate: ``python -m bench.kit.connector ...``.

It builds what ``connectors/sdk/app.py`` builds (keystore, key directory follower, store, idempotent producer,
outbox publisher) and publishes each return as ``ConnectorRuntime`` does: seal the sections for the broker,
commit the record to the store's outbox in one SQLite transaction, and wake the outbox publisher. The
enquiry handling and source lookups before that are an agency's own cost and are left out.

The time of each return is ``time.time_ns()`` taken just before it is sealed, i.e. when it is handed to the
connector's publishing path. Protocol: prints ``ready``; waits for ``go`` on stdin; offers the load
(``--rate`` for ``--warmup`` then ``--duration`` seconds, then optionally ``--burst N`` returns for one
referral back to back; or ``--preload N`` as fast as it can); waits for the outbox to drain; writes
``<referral id> <ns> <phase>`` lines to ``--out``; prints ``done <json>`` and stays up (so its CPU and memory
can be read) until SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from contextlib import AsyncExitStack
from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from bench.kit.load import Log, drive
from bench.kit.world import CONNECTOR, intel_body, intel_sections, pool_ids
from connectors.sdk.metrics import ConnectorMetrics
from devkit.localkafka import client_for
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec, DeadLetterPublisher
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.bus.outbox import OutboxPublisher
from jigsaw.bus.records import HEADER_KIND, HEADER_MSG_ID
from jigsaw.bus.store import Store
from jigsaw.config import KeystoreSettings
from jigsaw.ids import new_msg_id
from jigsaw.lifecycle import install_stop_signals
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory
from jigsaw.wire.envelope import Envelopes


async def main(a: argparse.Namespace) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    kafka = client_for(a.bootstrap, topic_prefix=a.prefix, client_id=f"{a.prefix}-connector")
    keys = KeystoreSettings(
        dir=a.keys, passphrase=SecretStr(os.environ["JIGSAW_CONNECTOR__KEYS__PASSPHRASE"])
    )
    registry = SchemaRegistry.load(max_record_bytes=kafka.max_record_bytes)
    directory = KeyDirectory(registry, keys.root_key())
    envelopes = Envelopes(registry, directory, keys.keystore().load(CONNECTOR))
    topics = Topics(a.prefix)
    prom = CollectorRegistry()
    kernel_metrics = KernelMetrics(prom, "connector-police")
    metrics = ConnectorMetrics(prom)
    store = Store(a.state / f"connector-{CONNECTOR}.sqlite")
    pool = pool_ids(a.prefix, a.pool)
    variants = [intel_sections(i) for i in range(16)]
    body = intel_body()
    topic = topics.intel("police")
    log: Log = []

    async with AsyncExitStack() as stack:
        producer = await stack.enter_async_context(Producer(kafka))
        dlq = DeadLetterPublisher(
            producer, DeadLetterCodec(registry, "connector-police"), topics.dlq, kernel_metrics
        )
        follower = KeyDirectoryFollower(kafka, topics.keys, directory, kernel_metrics, dlq)
        await stack.enter_async_context(follower)
        await follower.wait_loaded()
        store.open()
        stack.callback(store.close)
        outbox = await stack.enter_async_context(OutboxPublisher(store, producer, kernel_metrics))

        def publish(i: int, phase: str) -> None:
            # A burst is one referral's: the pool's last, which the steady load before it barely reaches.
            rid = pool[-1] if phase == "b" else pool[i % len(pool)]
            t0 = time.time_ns()
            msg_id = new_msg_id()
            value = envelopes.seal(
                kind="INTEL",
                referral_id=rid,
                body=body,
                sections=variants[i % len(variants)],
                recipients=["broker"],
                msg_id=msg_id,
            )
            with store.transaction() as tx:
                tx.enqueue(
                    topic,
                    value,
                    key=rid.encode(),
                    headers=[(HEADER_MSG_ID, msg_id.encode()), (HEADER_KIND, b"INTEL")],
                )
            metrics.returns.labels("unsolicited").inc()
            outbox.notify()
            log.append((rid, t0, phase))

        async def send(phase: str) -> None:
            publish(len(log), phase)

        async def drained() -> None:
            while store.outbox_stats()[0] > 0 and not stop.is_set():  # noqa: ASYNC110 - no event to wait on
                await asyncio.sleep(0.02)

        await drive(a, log, send, drained, stop)
        await stop.wait()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--prefix", required=True)
    ap.add_argument("--keys", type=Path, required=True)
    ap.add_argument("--state", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--pool", type=int, required=True)
    ap.add_argument("--rate", type=float, default=0)
    ap.add_argument("--warmup", type=float, default=0)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--preload", type=int, default=0)
    ap.add_argument("--burst", type=int, default=0)
    ap.add_argument("--burst-gap", type=float, default=2.0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main(ap.parse_args()))
