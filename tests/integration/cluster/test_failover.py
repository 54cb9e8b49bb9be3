"""Two broker instances in one consumer group on the shared PostgreSQL store, on the 3-node cluster: one
dies, or is paused past its session timeout and woken, mid-stream. Each run is judged by the one checker
(`faultkit.FaultRun.check`): nothing acknowledged lost, no decision twice, copies exact, views equal a
rebuild's, the audit chain verified."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from devkit.testkit.waiting import eventually
from jigsaw.config import KafkaSettings, StoreSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.cluster.faultkit import API_TOKEN, FaultRun

# A fault run is a minute or two of stream, faults and checks, with the cluster's start on the first: the
# suite's 180 s bound on a hung test is too tight for it.
pytestmark = [
    pytest.mark.usefixtures("cluster", "collect_broken_connections"),
    pytest.mark.timeout(480),
]

RETURNS = 160


NewRun = Callable[..., Awaitable[FaultRun]]


@pytest.fixture
def new_run(
    ckafka: KafkaSettings,
    ctopics: Topics,
    registry: SchemaRegistry,
    tmp_path: Path,
    pg_url: str,
    cluster_prefix: str,
) -> NewRun:
    """A fault run on the cluster whose broker and hub instances share the local PostgreSQL, each in a
    schema of this test's own."""

    async def new(*, brokers_share: bool = False, hubs_share: bool = False) -> FaultRun:
        def shared(name: str) -> StoreSettings:
            return StoreSettings(url=SecretStr(pg_url), schema_name=f"{cluster_prefix}_{name}")

        return await FaultRun.create(
            ckafka,
            ctopics,
            registry,
            tmp_path,
            referrals=RETURNS,
            store=shared("broker") if brokers_share else None,
            hub_store=shared("hub") if hubs_share else None,
        )

    return new


async def _two_brokers(new_run: NewRun) -> FaultRun:
    run = await new_run(brokers_share=True)
    await run.start("broker")
    await run.start("broker-2")
    await run.start("hub")
    return run


def _owned_by(run: FaultRun, name: str) -> dict[tuple[str, int], int]:
    """The input partitions instance ``name`` holds in the shared store, with their generations."""
    pid = f":{run.workers[name].proc.pid}"
    return {tp: g for tp, (g, owner) in run.owners(name.split("-")[0]).items() if owner.endswith(pid)}


async def _both_own_some(run: FaultRun, kind: str = "broker") -> None:
    await eventually(
        lambda: _owned_by(run, kind) and _owned_by(run, f"{kind}-2"), 60, f"both {kind} instances own some"
    )


async def _follow(url: str, heard: set[str], following: asyncio.Event) -> None:
    """A hub system on one instance's live stream: the referral ids of the case updates it is sent."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(10.0, read=600.0)) as client,
        client.stream("GET", f"{url}/cases/stream", headers=headers) as response,
    ):
        assert response.status_code == 200
        following.set()
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                heard.add(json.loads(line[len("data: ") :])["referral_id"])


async def test_one_of_two_broker_instances_sigkilled_mid_stream_the_other_carries_on_from_its_commits(
    new_run: NewRun,
) -> None:
    run = await _two_brokers(new_run)
    try:
        await _both_own_some(run)
        held = _owned_by(run, "broker-2")
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, RETURNS, rate_per_s=12, hold=(60, faults_done)))
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
    new_run: NewRun,
) -> None:
    run = await _two_brokers(new_run)
    zombie = run.workers["broker-2"]
    try:
        await _both_own_some(run)
        before = _owned_by(run, "broker-2")
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, RETURNS, rate_per_s=12, hold=(60, faults_done)))
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


async def test_one_of_two_hub_instances_sigkilled_mid_stream_while_a_live_stream_hears_both(
    new_run: NewRun,
) -> None:
    run = await new_run(hubs_share=True)
    heard: set[str] = set()
    try:
        await run.start("broker")
        await run.start("hub")
        await run.start("hub-2")
        await _both_own_some(run, "hub")
        held = _owned_by(run, "hub")
        # A desk follows the instance that survives: it must hear the other instance's updates as well.
        following = asyncio.Event()
        listener = asyncio.create_task(_follow(run.api("hub-2"), heard, following))
        await asyncio.wait_for(following.wait(), 30)
        faults_done = asyncio.Event()
        stream = asyncio.create_task(run.stream(0, RETURNS, rate_per_s=12, hold=(60, faults_done)))
        await eventually(lambda: len(run.acked) >= 40, 120, "the stream moving")
        killed_at = len(run.acked)
        run.workers["hub"].kill9()
        # The survivor alone applies every release so far, the dead one's partitions included.
        await run.settle(timeout_s=120)
        assert held.keys() <= _owned_by(run, "hub-2").keys(), "the dead instance's partitions moved"
        await run.start("hub")
        faults_done.set()
        await stream
        await run.settle()
        await eventually(lambda: set(run.acked.values()) <= heard, 60, "the live stream heard every case")
        listener.cancel()
        counts = await run.check()
    finally:
        run.stop_all()
        await run.rig.close()
    assert 0 < killed_at < RETURNS
    assert counts["acked"] == RETURNS
