"""Shared fixtures. The session fixture finds or starts the real local Kafka once."""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import Iterator

import pytest

from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """``JIGSAW_TEST_BOOTSTRAP`` if set (``make test`` sets it), else the local broker, started if needed."""
    given = os.environ.get("JIGSAW_TEST_BOOTSTRAP")
    if given:
        yield given
        return
    from devkit.localkafka import LocalKafka

    lk = LocalKafka()
    was_running = lk.status().answering
    status = lk.up()
    assert status.bootstrap is not None
    yield status.bootstrap
    if not was_running:
        lk.down()


@pytest.fixture
def collect_broken_connections() -> Iterator[None]:
    """For tests that kill a broker under live clients: aiokafka leaves those connections to the garbage
    collector, whose ResourceWarnings would otherwise surface in whichever test happens to run next."""
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def kafka(kafka_bootstrap: str, prefix: str) -> KafkaSettings:
    return KafkaSettings(bootstrap=kafka_bootstrap, topic_prefix=prefix, client_id=prefix)


@pytest.fixture
def topics(prefix: str) -> Topics:
    return Topics(prefix)


@pytest.fixture
def group(prefix: str) -> ConsumerSettings:
    return ConsumerSettings(group_id=f"{prefix}-group", shutdown_grace_s=5.0, retry_backoff_s=0.05)


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()
