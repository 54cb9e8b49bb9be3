"""`jigsaw kafka up --nodes 3`: every topic on three nodes with min.insync.replicas 2, so a node SIGKILLed
under a producer loses no acknowledged record, and a node started again rejoins its partitions' ISR."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from devkit.localkafka import LocalKafka
from jigsaw.config import KafkaSettings
from tests.integration import kafkautil as ku

pytestmark = pytest.mark.usefixtures("collect_broken_connections")


async def _partitions(kafka: KafkaSettings, topic: str) -> list[dict[str, object]]:
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
        return list(described["partitions"])
    finally:
        await admin.close()


async def _min_isr(kafka: KafkaSettings, topic: str) -> str:
    admin = AIOKafkaAdminClient(**kafka.client_kwargs())
    await admin.start()
    try:
        (resp,) = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, topic, {"min.insync.replicas": None})]
        )
        ((_code, _msg, _type, _name, entries),) = resp.resources
        return str(dict((e[0], e[1]) for e in entries)["min.insync.replicas"])
    finally:
        await admin.close()


async def test_three_replicas_min_isr_two_and_a_killed_leader_loses_no_acknowledged_record(
    cluster: LocalKafka, ckafka: KafkaSettings, cluster_prefix: str
) -> None:
    status = await asyncio.to_thread(cluster.status)
    assert [n.node_id for n in status.nodes] == [1, 2, 3]
    assert status.answering
    assert len(ckafka.bootstrap.split(",")) == 3, "clients are given every node's address"
    topic = f"{cluster_prefix}.faults"
    await ku.create(ckafka, topic, partitions=3)

    parts: list[dict[str, object]] = []

    async def described() -> bool:
        # Each node learns of a new topic on its own time, and the admin client asks one at random: keep
        # the answer that had it, rather than ask again.
        nonlocal parts
        parts = await _partitions(ckafka, topic)
        return len(parts) == 3

    await ku.eventually(described, what="the topic's partitions in the metadata")
    assert sorted(len(p["replicas"]) for p in parts) == [3, 3, 3]  # type: ignore[arg-type]
    assert await _min_isr(ckafka, topic) == "2"

    await ku.produce(ckafka, topic, [(b"k0", f"before-{i}".encode()) for i in range(100)])
    leader = next(int(p["leader"]) for p in parts if p["partition"] == 0)  # type: ignore[call-overload]
    await asyncio.to_thread(cluster.kill, leader)
    after = await asyncio.to_thread(cluster.status)
    assert [n.node_id for n in after.nodes if not n.running] == [leader]
    # acks=all with two of three in the ISR: every send is acknowledged, and each one must be kept.
    await ku.produce(ckafka, topic, [(b"k0", f"after-{i}".encode()) for i in range(100)])
    values = {r.value for r in await ku.read_all(ckafka, topic)}
    expected = {f"{w}-{i}".encode() for w in ("before", "after") for i in range(100)}
    assert values == expected

    await asyncio.to_thread(cluster.start, leader)

    async def back_in_sync() -> bool:
        return all(len(p["isr"]) == 3 for p in await _partitions(ckafka, topic))  # type: ignore[arg-type]

    await ku.eventually(back_in_sync, timeout_s=90, what="the restarted node back in every ISR")
