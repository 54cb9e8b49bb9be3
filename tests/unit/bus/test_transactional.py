"""The transactional adapter, with a real SQLite store and no broker."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import COMMIT, DeadLetter, Outcome, Record, RetryLater
from jigsaw.bus.store import Store, Tx
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.errors import BadSignature, DeadLetterReason, FatalError, TransientError
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
    if record.value == b"store-down":
        raise sqlite3.OperationalError("disk I/O error")  # the store's, not the record's
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


@pytest.mark.parametrize("value", [b"busy", b"later", b"store-down"])
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


async def test_a_batch_commits_once_and_a_rejected_record_undoes_only_its_own_writes(
    store: Store, registry: SchemaRegistry
) -> None:
    adapter, reg = _adapter(store, registry)
    batch = [_record(v, offset=i) for i, v in enumerate([b"a", b"forged", b"b", b"bug", b"c"])]
    assert await adapter.batch(batch) == [COMMIT] * 5
    assert [v for (v,) in store.conn.execute("SELECT v FROM seen")] == [b"a", b"b", b"c"]
    assert [r.topic for r in store.outbox_batch(10)] == ["out", "dlq", "out", "dlq", "out"]
    assert store.offsets() == {("in", 1): 5}
    assert reg.get_sample_value("jigsaw_dead_letters_total", {"service": "t", "reason": "BAD_SIGNATURE"}) == 1


async def test_a_batch_stops_at_a_retry_and_commits_what_came_before_it(
    store: Store, registry: SchemaRegistry
) -> None:
    adapter, _ = _adapter(store, registry)
    batch = [_record(v, offset=10 + i) for i, v in enumerate([b"a", b"b", b"busy", b"c"])]
    outcomes = await adapter.batch(batch)
    assert outcomes[:2] == [COMMIT, COMMIT]
    assert isinstance(outcomes[2], RetryLater)
    assert len(outcomes) == 3  # "c" was not touched
    assert [v for (v,) in store.conn.execute("SELECT v FROM seen")] == [b"a", b"b"]
    # The retried record's own outbox row went with its savepoint; the others' stay.
    assert [r.topic for r in store.outbox_batch(10)] == ["out", "out"]
    assert store.offsets() == {("in", 1): 12}


async def test_a_batch_fetched_again_is_applied_once(store: Store, registry: SchemaRegistry) -> None:
    adapter, _ = _adapter(store, registry)
    await adapter.batch([_record(b"a", offset=0), _record(b"b", offset=1)])
    # A rebalance's seek racing a fetch: part of the batch again, then new records.
    again = [_record(b"b", offset=1), _record(b"c", offset=2), _record(b"forged", offset=3)]
    assert await adapter.batch(again) == [COMMIT] * 3
    assert [v for (v,) in store.conn.execute("SELECT v FROM seen")] == [b"a", b"b", b"c"]
    assert [r.topic for r in store.outbox_batch(10)] == ["out", "out", "out", "dlq"]
    assert store.offsets() == {("in", 1): 4}


async def test_a_batch_that_fails_in_the_store_commits_nothing(
    store: Store, registry: SchemaRegistry
) -> None:
    def breaks_the_store(record: Record, tx: Tx) -> Outcome:
        tx.execute("INSERT INTO seen VALUES (?)", (record.value,))
        if record.value == b"fatal":
            raise FatalError("the store is gone")
        return COMMIT

    codec = DeadLetterCodec(registry, "t")
    adapter = TransactionalHandler(
        store, breaks_the_store, codec, "dlq", KernelMetrics(CollectorRegistry(), "t")
    )
    with pytest.raises(FatalError, match="the store is gone"):
        await adapter.batch([_record(b"a", offset=0), _record(b"fatal", offset=1)])
    assert store.conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    assert store.offsets() == {}


async def test_a_store_failure_around_a_record_is_retried_not_dead_lettered(
    store: Store, registry: SchemaRegistry
) -> None:
    """A lost connection or a lock timeout is the store's failure: the record is tried again, never parked
    on the DLQ (where, once the next record commits past it, it would be lost to the case)."""
    adapter, _ = _adapter(store, registry)
    store.conn.execute("DROP TABLE kernel_offsets")  # the commit's own write now fails in the store
    outcome = await adapter(_record(b"ok", offset=5))
    assert isinstance(outcome, RetryLater)
    assert "OperationalError" in outcome.why
    assert store.conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 0
    assert store.conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()[0] == 0


def _dead_letter_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "jigsaw.bus.transactional" and "dead-lettered" in r.msg]


async def test_a_dead_letter_is_logged_once_where_it_is_written_by_reason_and_place_only(
    store: Store, registry: SchemaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    """The service that writes a dead letter says so, not only the DLQ topic and a metric; never with the
    record's content or the detail, which is built from the input."""
    caplog.set_level(logging.WARNING, logger="jigsaw.bus.transactional")
    adapter, _ = _adapter(store, registry)
    for _ in range(2):  # fetched again: dead-lettered, and logged, once
        await adapter(_record(b"forged", offset=4))
    (line,) = _dead_letter_lines(caplog)
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "dead-lettered in[1]@4: BAD_SIGNATURE"
    assert "forged" not in caplog.text
    assert "signature does not verify" not in caplog.text
    assert "R-1" not in caplog.text, "the key is whatever was sent: not logged"


async def test_each_dead_letter_of_a_batch_is_logged_after_the_batch_commits(
    store: Store, registry: SchemaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jigsaw.bus.transactional")
    adapter, _ = _adapter(store, registry)
    batch = [_record(v, offset=i) for i, v in enumerate([b"a", b"forged", b"b", b"bug"])]
    assert await adapter.batch(batch) == [COMMIT] * 4
    assert [r.getMessage() for r in _dead_letter_lines(caplog)] == [
        "dead-lettered in[1]@1: BAD_SIGNATURE",
        "dead-lettered in[1]@3: UNHANDLED",
    ]


async def test_a_dead_letter_that_does_not_commit_is_not_logged(
    store: Store, registry: SchemaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jigsaw.bus.transactional")
    adapter, reg = _adapter(store, registry)
    store.conn.execute("DROP TABLE kernel_offsets")  # the dead letter's transaction fails in the store
    assert isinstance(await adapter(_record(b"forged", offset=5)), RetryLater)
    assert (
        await adapter.dead_letter(_record(b"x", offset=6), DeadLetter(DeadLetterReason.OVERSIZED, ""))
        != COMMIT
    )
    assert store.conn.execute("SELECT count(*) FROM kernel_outbox").fetchone()[0] == 0
    assert _dead_letter_lines(caplog) == []
    assert (
        reg.get_sample_value("jigsaw_dead_letters_total", {"service": "t", "reason": "BAD_SIGNATURE"}) is None
    )
