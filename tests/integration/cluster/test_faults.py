"""Faults under a bounded stream of returns, through the 3-node cluster and the real broker and hub
processes, each run judged by one checker (`faultkit.FaultRun.check`)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from devkit.localkafka import LocalKafka
from devkit.testkit.waiting import eventually
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.cluster.faultkit import FaultRun

# A fault run is a minute or two of stream, faults and checks, with the cluster's start on the first: the
# suite's 180 s bound on a hung test is too tight for it.
pytestmark = [pytest.mark.usefixtures("collect_broken_connections"), pytest.mark.timeout(480)]


async def test_the_leader_of_the_busiest_partition_sigkilled_three_times_mid_stream(
    cluster: LocalKafka, ckafka: KafkaSettings, ctopics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    returns = 240
    run = await FaultRun.create(ckafka, ctopics, registry, tmp_path, referrals=returns)
    try:
        await run.start("broker")
        await run.start("hub")
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, returns, rate_per_s=12, hold=(60, faults_done)))
        killed, acked_at_kill = [], []
        for k in range(3):
            # Progress between kills, not a fixed wait: each kill must find the stream moving again.
            moved = 20 * (k + 1)
            await eventually(lambda: len(run.acked) >= moved, 120, "the stream moving")  # noqa: B023
            leader = await run.busiest_leader()
            acked_at_kill.append(len(run.acked))
            await asyncio.to_thread(cluster.kill, leader)
            killed.append(leader)
            await asyncio.sleep(2)  # the stream goes on with that node gone
            await asyncio.to_thread(cluster.start, leader)
        faults_done.set()
        await stream
        counts = await run.check()
    finally:
        run.stop_all()
        await run.rig.close()
    assert counts["acked"] == returns
    assert len(killed) == 3
    assert all(0 < n < returns for n in acked_at_kill), f"every kill lands mid-stream: {acked_at_kill}"


async def test_two_of_three_nodes_sigkilled_for_30_s_mid_stream_stall_writes_and_lose_none(
    cluster: LocalKafka, ckafka: KafkaSettings, ctopics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> None:
    returns = 160
    run = await FaultRun.create(ckafka, ctopics, registry, tmp_path, referrals=returns)
    try:
        await run.start("broker")
        await run.start("hub")
        stream = asyncio.create_task(run.stream(0, returns, rate_per_s=8))
        await asyncio.sleep(3)
        for node in (2, 3):
            await asyncio.to_thread(cluster.kill, node)
        await asyncio.sleep(3)  # every acknowledgement sent before the kill has arrived
        stalled_at = len(run.acked)
        await asyncio.sleep(27)  # the rest of the 30 s with one node of three
        # min.insync.replicas 2 and acks=all: with one node running no input may be acknowledged.
        during_outage = len(run.acked) - stalled_at
        mid_stream = not stream.done()
        await asyncio.to_thread(cluster.start, 2, 3)
        await stream
        counts = await run.check()
    finally:
        run.stop_all()
        await run.rig.close()
    assert mid_stream, "the outage must land mid-stream"
    assert during_outage == 0, f"{during_outage} returns acknowledged with one node of three"
    assert 0 < stalled_at < returns
    assert counts["acked"] == returns
