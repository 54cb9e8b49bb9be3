"""The real hub service (``services.hub.app.run``) with one addition: it notes when each view changes.

    python -m bench.kit.hub --updates FILE        (settings from JIGSAW_HUB__*, as for `jigsaw hub run`)

The hub calls its broadcast's ``publish(referral_id)`` once the transaction that changed a case has
committed: that is the moment the view is updated. This runner swaps in a broadcast that also records
``time.time_ns()`` for it, and appends ``<referral id> <ns> <ms>`` lines to FILE every 200 ms, where
``<ms>`` is the Kafka timestamp of the release that changed the view: when the broker's outbox handed it
to its producer, which splits the latency into the part before the broker published and the part after.
It prints ``ready <port>`` once the API is serving.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import time
from collections import defaultdict, deque
from pathlib import Path

import services.hub.app as hub_app
from jigsaw.bus.records import Outcome, Record
from jigsaw.bus.store import Tx
from jigsaw.lifecycle import install_stop_signals
from services.hub.api import Broadcast
from services.hub.config import HubSettings
from services.hub.consumer import HubProcessor

_updates: list[tuple[str, int, int]] = []
_released: dict[str, deque[int]] = defaultdict(deque)


class RecordingBroadcast(Broadcast):
    def publish(self, referral_id: str) -> None:
        queued = _released.get(referral_id)
        _updates.append((referral_id, time.time_ns(), queued.popleft() if queued else 0))
        super().publish(referral_id)


class RecordingProcessor(HubProcessor):
    def __call__(self, record: Record, tx: Tx) -> Outcome:
        outcome = super().__call__(record, tx)
        # The update for this record, if there is one, is published after the commit, in this order.
        if record.topic == self.topics.release(self.subscriber) and record.key is not None:
            _released[record.key.decode()].append(record.timestamp_ms)
        return outcome


def _flush(path: Path) -> None:
    if not _updates:
        return
    batch = _updates[:]
    del _updates[: len(batch)]
    with path.open("a") as f:
        f.writelines(f"{rid} {ns} {ms}\n" for rid, ns, ms in batch)


async def main(updates: Path) -> None:
    stop = asyncio.Event()
    install_stop_signals(stop)
    hub_app.Broadcast = RecordingBroadcast  # type: ignore[misc]
    hub_app.HubProcessor = RecordingProcessor  # type: ignore[misc]

    async def flusher() -> None:
        while True:
            await asyncio.sleep(0.2)
            _flush(updates)

    task = asyncio.create_task(flusher())
    try:
        await hub_app.run(HubSettings(), stop, lambda port: print(f"ready {port}", flush=True))
    finally:
        task.cancel()
        _flush(updates)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--updates", type=Path, required=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(main(ap.parse_args().updates))
