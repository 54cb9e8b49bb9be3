"""One 3-node KRaft cluster for every test here, started by the project from the same jars and secured as
the single node is; each test works under a topic prefix of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from devkit.localkafka import LocalKafka, LocalKafkaSettings
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    home = tmp_path_factory.mktemp("cluster") / "kafka"
    # Three nodes beside the suite's single node, on two cores: a smaller heap each.
    lk = LocalKafka(LocalKafkaSettings(home=home, nodes=3, heap_mb=384))
    lk.up()
    yield lk
    lk.down()


@pytest.fixture(autouse=True)
def _every_node_up(cluster: LocalKafka) -> None:
    """Each test starts on three running nodes: one that failed with a node down must not fail the rest."""
    down = [n for n in cluster.node_ids() if not cluster.node_status(n, probe_it=False).running]
    if down:
        cluster.start(*down)


@pytest.fixture
def cluster_prefix() -> str:
    return f"c{uuid.uuid4().hex[:10]}"


@pytest.fixture
def ckafka(cluster: LocalKafka, cluster_prefix: str) -> KafkaSettings:
    """The operator on the cluster, under this test's prefix."""
    return cluster.client(topic_prefix=cluster_prefix, client_id=cluster_prefix)


@pytest.fixture
def ctopics(cluster_prefix: str) -> Topics:
    return Topics(cluster_prefix)
