"""The local Kafka's node bookkeeping, without a JVM: storage formatted for one count is never started as
another, a node that does not exist is refused, and a state file from before clusters still reads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from devkit.localkafka import LocalKafka, LocalKafkaSettings
from jigsaw.errors import KafkaLocalError


def _formatted_single(home: Path) -> None:
    (home / "data").mkdir(parents=True)
    (home / "data" / "meta.properties").write_text("cluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=1\n")
    # As the manager wrote it before it knew of clusters: one node's fields at the top.
    state = {"port": 40001, "mtls_port": 40002, "controller_port": 40003, "pid": 0, "secure": True}
    (home / "state.json").write_text(json.dumps({**state, "bootstrap": "127.0.0.1:40001"}))


def test_storage_formatted_for_one_node_is_not_started_as_three(tmp_path: Path) -> None:
    _formatted_single(tmp_path)
    lk = LocalKafka(LocalKafkaSettings(home=tmp_path, nodes=3), progress=lambda _: None)
    assert lk.count == 1, "the storage decides, not the request"
    with pytest.raises(KafkaLocalError, match="formatted with 1 node"):
        lk.up()


def test_an_old_state_file_reads_as_node_one(tmp_path: Path) -> None:
    _formatted_single(tmp_path)
    lk = LocalKafka(LocalKafkaSettings(home=tmp_path), progress=lambda _: None)
    assert lk.node_ids() == [1]
    assert lk.data_dir(1) == tmp_path / "data", "one node keeps the layout it always had"
    assert lk.serves("127.0.0.1:40001")
    assert lk.serves("127.0.0.1:40002")
    assert not lk.serves("127.0.0.1:40001,127.0.0.1:49999"), "every address must be this Kafka's"
    assert not lk.serves("")
    status = lk.status()
    assert not status.running
    assert [n.node_id for n in status.nodes] == [1]


def test_a_node_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    _formatted_single(tmp_path)
    lk = LocalKafka(LocalKafkaSettings(home=tmp_path), progress=lambda _: None)
    with pytest.raises(KafkaLocalError, match="no Kafka node 2"):
        lk.kill(2)
    with pytest.raises(KafkaLocalError, match="no Kafka node 4"):
        lk.start(4)
    with pytest.raises(KafkaLocalError, match="node 1 is not running"):
        lk.kill(1)
