"""A cluster id that the storage tool's argument parser reads as an option fails `kafka up` at random."""

import uuid

import pytest

from devkit.localkafka import storage as manager


def test_a_cluster_id_never_starts_with_a_dash(monkeypatch: pytest.MonkeyPatch) -> None:
    # 0xF8 encodes to '-' as the first base64url character: the id Kafka's own generator also rejects.
    draws = iter([uuid.UUID(bytes=b"\xf8" + bytes(15)), uuid.UUID(bytes=b"\x10" + bytes(15))])
    monkeypatch.setattr(manager.uuid, "uuid4", lambda: next(draws))
    cluster_id = manager.new_cluster_id()
    assert cluster_id == "EAAAAAAAAAAAAAAAAAAAAA"
    assert len(cluster_id) == 22
