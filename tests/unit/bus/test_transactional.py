"""The transactional adapter, with a real SQLite store and no broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import COMMIT, Outcome, Record, RetryLater
from jigsaw.bus.store import Store, Tx
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.errors import BadSignature, DeadLetterReason, TransientError
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry

SCHEMA = "CREATE TABLE IF NOT EXISTS seen (v BLOB);"


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite", SCHEMA)
    s.open()
    yield s  # type: ignore[misc]
    s.close()


def _record(value: bytes, offset: int = 0) -> Record:
    return Record("in", 1, offset, b"R-1", value)


def _handler(record: Record, tx: Tx) -> Outcome:
    tx.execute("INSERT INTO seen VALUES (?)", (record.value,))
    tx.enqueue("out", b"derived")
    if record.value == b"forged":
        raise BadSignature("signature does not verify")
    if record.value == b"busy":
        raise TransientError("key directory not loaded yet")
    if record.value == b"later":
        return RetryLater("not yet")
    if record.value == b"bug":
        raise ZeroDivisionError("a bug")
    return COMMIT


def _adapter(store: Store, registry: SchemaRegistry) -> tuple[TransactionalHandler, CollectorRegistry]:
    reg = CollectorRegistry()
    codec = DeadLetterCodec(registry, "t")
    return TransactionalHandler(store, _handler, codec, "dlq", KernelMetrics(reg, "t")), reg


async def test_commit_writes_state_offset_and_outbox(store: Store, registry: SchemaRegistry) -> None:
    adapter, _ = _adapter(store, registry)
    assert await adapter(_record(b"ok", offset=7)) == COMMIT
    assert store.offsets() == {("in", 1): 8}
    assert [r.topic for r in store.outbox_batch(10)] == ["out"]


async def test_rejection_rolls_back_state_and_dead_letters_in_the_same_transaction(
    store: Store, registry: SchemaRegistry
) -> None:
    adapter, reg = _adapter(store, registry)
    assert await adapter(_record(b"forged", offset=3)) == COMMIT
    assert store.conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    assert store.offsets() == {("in", 1): 4}
    (row,) = store.outbox_batch(10)
    assert row.topic == "dlq"
    letter = DeadLetterCodec(registry, "t").decode(row.value)
    assert letter["reason"] == DeadLetterReason.BAD_SIGNATURE.value
    assert letter["source_offset"] == 3
    assert reg.get_sample_value("jigsaw_dead_letters_total", {"service": "t", "reason": "BAD_SIGNATURE"}) == 1


@pytest.mark.parametrize("value", [b"busy", b"later"])
async def test_retry_commits_nothing(store: Store, registry: SchemaRegistry, value: bytes) -> None:
    adapter, _ = _adapter(store, registry)
    outcome = await adapter(_record(value))
    assert isinstance(outcome, RetryLater)
    assert store.offsets() == {}
    assert store.outbox_batch(10) == []


async def test_an_unexpected_error_is_dead_lettered_as_unhandled(
    store: Store, registry: SchemaRegistry
) -> None:
    adapter, _ = _adapter(store, registry)
    assert await adapter(_record(b"bug")) == COMMIT
    (row,) = store.outbox_batch(10)
    letter = DeadLetterCodec(registry, "t").decode(row.value)
    assert letter["reason"] == "UNHANDLED"
    assert letter["detail"] == "ZeroDivisionError"


async def test_a_record_fetched_again_is_applied_and_dead_lettered_once(
    store: Store, registry: SchemaRegistry
) -> None:
    adapter, _ = _adapter(store, registry)
    for _ in range(2):  # a rebalance's seek racing a fetch hands the same records over twice
        await adapter(_record(b"ok", offset=3))
        await adapter(_record(b"forged", offset=4))
    assert [v for (v,) in store.conn.execute("SELECT v FROM seen")] == [b"ok"]
    assert [r.topic for r in store.outbox_batch(10)] == ["out", "dlq"]
    assert store.offsets() == {("in", 1): 5}
