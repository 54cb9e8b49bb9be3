"""Faults under a bounded stream of returns, through the 3-node cluster and the real broker and hub
processes, each run judged by one checker (`faultkit.FaultRun.check`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devkit.localkafka import LocalKafka
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.cluster.faultkit import FaultRun

pytestmark = pytest.mark.usefixtures("collect_broken_connections")


async def test_the_leader_of_the_busiest_partition_sigkilled_three_times_mid_stream(
    cluster: LocalKafka, ckafka: KafkaSettings, ctopics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    returns = 360
    run = await FaultRun.create(ckafka, ctopics, registry, tmp_path, referrals=returns)
    try:
        await run.start("broker")
        await run.start("hub")
        stream = asyncio.create_task(run.stream(0, returns, rate_per_s=12))
        killed = []
        for _ in range(3):
            await asyncio.sleep(2)
            leader = await run.busiest_leader()
            await asyncio.to_thread(cluster.kill, leader)
            killed.append(leader)
            await asyncio.sleep(2)  # the stream goes on with that node gone
            await asyncio.to_thread(cluster.start, leader)
        assert not stream.done(), "every kill must land mid-stream"
        await stream
        counts = await run.check()
    finally:
        run.stop_all()
        await run.rig.close()
    assert counts["acked"] == returns
    assert len(killed) == 3
