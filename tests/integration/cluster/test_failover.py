"""Two broker instances in one consumer group on the shared PostgreSQL store, on the 3-node cluster: one
dies, or is paused past its session timeout and woken, mid-stream. Each run is judged by the one checker
(`faultkit.FaultRun.check`): nothing acknowledged lost, no decision twice, copies exact, views equal a
rebuild's, the audit chain verified."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from pydantic import SecretStr

from devkit.localkafka import LocalKafka
from devkit.testkit.waiting import eventually
from jigsaw.config import KafkaSettings, StoreSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.cluster.faultkit import FaultRun

pytestmark = pytest.mark.usefixtures("collect_broken_connections")

RETURNS = 240


async def _two_brokers(
    ckafka: KafkaSettings, ctopics: Topics, registry: SchemaRegistry, tmp: Path, pg_url: str, schema: str
) -> FaultRun:
    store = StoreSettings(url=SecretStr(pg_url), schema_name=schema)
    run = await FaultRun.create(ckafka, ctopics, registry, tmp, referrals=RETURNS, store=store)
    await run.start("broker")
    await run.start("broker-2")
    await run.start("hub")
    return run


def _owned_by(run: FaultRun, name: str) -> dict[tuple[str, int], int]:
    """The input partitions instance ``name`` holds in the shared store, with their generations."""
    pid = f":{run.workers[name].proc.pid}"
    return {tp: g for tp, (g, owner) in run.owners().items() if owner.endswith(pid)}


async def _both_own_some(run: FaultRun) -> None:
    await eventually(lambda: _owned_by(run, "broker") and _owned_by(run, "broker-2"), 60, "both own some")


async def test_one_of_two_broker_instances_sigkilled_mid_stream_the_other_carries_on_from_its_commits(
    cluster: LocalKafka,
    ckafka: KafkaSettings,
    ctopics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
    pg_url: str,
    cluster_prefix: str,
) -> None:
    run = await _two_brokers(ckafka, ctopics, registry, tmp_path, pg_url, cluster_prefix)
    try:
        await _both_own_some(run)
        held = _owned_by(run, "broker-2")
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, RETURNS, rate_per_s=12, hold=(80, faults_done)))
        await eventually(lambda: len(run.acked) >= 40, 120, "the stream moving")
        killed_at = len(run.acked)
        run.workers["broker-2"].kill9()
        # The survivor alone catches up with every input so far, the dead one's partitions included.
        await run.rig.settle(timeout_s=120)
        assert held.keys() <= _owned_by(run, "broker").keys(), "the dead instance's partitions moved"
        # Back mid-stream: partitions move again, to an instance that starts from the shared store.
        await run.start("broker-2")
        faults_done.set()
        await stream
        counts = await run.check()
    finally:
        run.stop_all()
        await run.rig.close()
    assert 0 < killed_at < RETURNS
    assert counts["acked"] == RETURNS


async def test_a_broker_instance_paused_past_its_session_timeout_is_fenced_when_it_wakes(
    cluster: LocalKafka,
    ckafka: KafkaSettings,
    ctopics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
    pg_url: str,
    cluster_prefix: str,
) -> None:
    run = await _two_brokers(ckafka, ctopics, registry, tmp_path, pg_url, cluster_prefix)
    zombie = run.workers["broker-2"]
    try:
        await _both_own_some(run)
        before = _owned_by(run, "broker-2")
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, RETURNS, rate_per_s=12, hold=(80, faults_done)))
        await eventually(lambda: len(run.acked) >= 40, 120, "the stream moving")
        zombie.proc.send_signal(signal.SIGSTOP)
        paused_at = len(run.acked)
        # Past the session timeout the group moves the paused instance's partitions: the survivor claims
        # them (a generation up) and catches up with every input so far.
        await run.rig.settle(timeout_s=120)
        survivor = _owned_by(run, "broker")
        assert all(survivor.get(tp, 0) > g for tp, g in before.items()), "claimed over, a generation up"
        zombie.proc.send_signal(signal.SIGCONT)
        # Awake, the old owner may not commit under its old claims: it either stops on a fenced
        # transaction or rejoins the group and claims partitions afresh, a generation above the
        # survivor's. Either way the checker must find nothing lost and nothing decided twice.
        await eventually(
            lambda: zombie.proc.poll() is not None or _owned_by(run, "broker-2"),
            120,
            "the woken instance stopped or rejoined",
        )
        faults_done.set()
        await stream
        counts = await run.check()
    finally:
        if zombie.proc.poll() is None:
            zombie.proc.send_signal(signal.SIGCONT)
        run.stop_all()
        await run.rig.close()
    if zombie.proc.returncode not in (None, 0):
        assert "fenced" in zombie.output(), "a stopped zombie says why"
    assert 0 < paused_at < RETURNS
    assert counts["acked"] == RETURNS
