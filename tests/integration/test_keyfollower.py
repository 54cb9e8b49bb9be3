"""The key directory follower is supervised: an unexpected error restarts it rather than freezing the
directory, and repeated failures fail its owner loudly instead of leaving revocations unread."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from devkit.testkit.wire import make_world
from jigsaw.bus.admin import ensure_topics
from jigsaw.bus.keyfollower import KeyDirectoryFollower
from jigsaw.config import KafkaSettings
from jigsaw.errors import FatalError
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.directory import KeyDirectory, PublishedKey
from tests.integration import kafkautil as ku


async def _follow(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, failures: int
) -> tuple[KeyDirectory, KeyDirectoryFollower, CollectorRegistry]:
    world = make_world(registry)
    await ensure_topics(kafka, topics.specs(["police"], ["csc-mash"], partitions=2))
    await ku.produce(kafka, topics.keys, list(world.records))
    directory = KeyDirectory(registry, world.root.current.sign.public_key())
    real, left = directory.apply, [failures]

    def flaky(value: bytes) -> PublishedKey:
        if left[0] > 0:
            left[0] -= 1
            raise RuntimeError("a bug, not a bad record")
        return real(value)

    directory.apply = flaky  # type: ignore[method-assign]
    prom = CollectorRegistry()
    return directory, KeyDirectoryFollower(kafka, topics.keys, directory, KernelMetrics(prom, "t")), prom


async def test_an_unexpected_error_restarts_the_follower(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry
) -> None:
    directory, follower, prom = await _follow(kafka, topics, registry, failures=1)
    async with follower:
        await follower.wait_loaded()
        assert {"police.devon", "broker", "csc-mash"} <= set(directory.participants())
        assert prom.get_sample_value("jigsaw_task_restarts_total", {"service": "t", "task": "key-directory"})


async def test_repeated_failures_fail_the_service_loudly(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry
) -> None:
    _, follower, prom = await _follow(kafka, topics, registry, failures=10_000)
    async with follower:
        with pytest.raises(FatalError):
            await asyncio.wait_for(follower.wait(), 120)
    assert prom.get_sample_value("jigsaw_task_up", {"service": "t", "task": "key-directory"}) == 0
