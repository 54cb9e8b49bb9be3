"""Shared fixtures. The session fixture finds or starts the real local Kafka once."""

from __future__ import annotations

import gc
import uuid
import warnings
from collections.abc import Iterator

import pytest

from devkit.localkafka import LocalKafka
from devkit.localpg import LocalPostgres
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry


@pytest.fixture(scope="session")
def local_kafka() -> Iterator[LocalKafka]:
    """The real local Kafka, secured as by default: found running (``make test`` starts it) or started."""
    lk = LocalKafka()
    was_running = lk.status().answering
    lk.up()
    yield lk
    if not was_running:
        lk.down()


@pytest.fixture(scope="session")
def local_pg() -> Iterator[LocalPostgres]:
    """The real local PostgreSQL (Debian's package): found running (``make test`` starts it) or started."""
    pg = LocalPostgres(progress=lambda _: None)
    was_running = pg.status().answering
    pg.up()
    yield pg
    if not was_running:
        pg.down()


@pytest.fixture(scope="session")
def pg_url(local_pg: LocalPostgres) -> str:
    return local_pg.url()


@pytest.fixture(scope="session")
def kafka_admin(local_kafka: LocalKafka) -> KafkaSettings:
    """The operator's settings (a super user, SCRAM over TLS), without a prefix."""
    return local_kafka.client()


@pytest.fixture(scope="session")
def kafka_bootstrap(kafka_admin: KafkaSettings) -> str:
    return kafka_admin.bootstrap


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
def kafka(kafka_admin: KafkaSettings, prefix: str) -> KafkaSettings:
    return kafka_admin.model_copy(update={"topic_prefix": prefix, "client_id": prefix})


@pytest.fixture
def topics(prefix: str) -> Topics:
    return Topics(prefix)


@pytest.fixture
def group(prefix: str) -> ConsumerSettings:
    return ConsumerSettings(group_id=f"{prefix}-group", shutdown_grace_s=5.0, retry_backoff_s=0.05)


@pytest.fixture(scope="session")
def registry() -> SchemaRegistry:
    return SchemaRegistry.load()
