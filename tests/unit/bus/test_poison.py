"""A poison record is contained: bounded before handling, and its dead letter always small enough to send."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from jigsaw.bus.dlq import (
    MAX_KEY_COPY,
    VALUE_PREFIX,
    DeadLetterCodec,
    DeadLetterPublisher,
    log_dead_letter,
)
from jigsaw.bus.loop import ConsumeLoop
from jigsaw.bus.records import COMMIT, Bounds, DeadLetter, Outcome, Record
from jigsaw.bus.store import Store, Tx
from jigsaw.bus.transactional import TransactionalHandler
from jigsaw.config import ConsumerSettings, KafkaSettings
from jigsaw.errors import DeadLetterReason, PayloadInvalid
from jigsaw.metrics import KernelMetrics
from jigsaw.wire.codec import SchemaRegistry

KAFKA = KafkaSettings()
HUGE_KEY = b"K" * 900_000
HUGE_VALUE = b"\xc3\x01" + b"V" * 900_000


def _record(key: bytes | None, value: bytes | None, headers: tuple[tuple[str, bytes], ...] = ()) -> Record:
    return Record("in", 0, 41, key, value, headers)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "s.sqlite", "CREATE TABLE IF NOT EXISTS seen (k BLOB);")
    s.open()
    yield s  # type: ignore[misc]
    s.close()


def test_a_dead_letter_of_a_huge_record_is_small_and_says_what_it_left_out(registry: SchemaRegistry) -> None:
    codec = DeadLetterCodec(registry, "t")
    record = _record(HUGE_KEY, HUGE_VALUE)
    encoded = codec.encode(record, DeadLetterReason.OVERSIZED, "key is 900000 bytes, limit 1024")
    assert len(encoded) < 4096
    letter = codec.decode(encoded)
    assert letter["key"] == f"sha256:{hashlib.sha256(HUGE_KEY).hexdigest()}"
    assert letter["original"] == HUGE_VALUE[:VALUE_PREFIX]
    assert f"value truncated to {VALUE_PREFIX} of {len(HUGE_VALUE)} bytes" in letter["detail"]
    assert hashlib.sha256(HUGE_VALUE).hexdigest() in letter["detail"]
    assert "key of 900000 bytes replaced by its sha256" in letter["detail"]
    assert letter["detail"].startswith("key is 900000 bytes, limit 1024")
    assert codec.key(record) == letter["key"].encode()


def test_an_ordinary_dead_letter_copies_key_and_value_whole(registry: SchemaRegistry) -> None:
    codec = DeadLetterCodec(registry, "t")
    record = _record(b"R-01J", b"\xc3\x01sealed")
    letter = codec.decode(codec.encode(record, DeadLetterReason.BAD_SIGNATURE, "no"))
    assert (letter["key"], letter["original"], letter["detail"]) == ("R-01J", b"\xc3\x01sealed", "no")
    assert codec.key(record) == b"R-01J"
    assert codec.key(_record(b"k" * MAX_KEY_COPY, None)) == b"k" * MAX_KEY_COPY


class _Producer:
    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes | None]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes | None = None) -> None:
        self.sent.append((topic, value, key))


async def test_the_dlq_publisher_sends_under_a_bounded_key(registry: SchemaRegistry) -> None:
    producer = _Producer()
    dlq = DeadLetterPublisher(
        producer,  # type: ignore[arg-type]
        DeadLetterCodec(registry, "t"),
        "dlq",
        KernelMetrics(CollectorRegistry(), "t"),
    )
    await dlq.publish(_record(HUGE_KEY, HUGE_VALUE), DeadLetterReason.OVERSIZED, "too big")
    ((topic, value, key),) = producer.sent
    assert topic == "dlq"
    assert key is not None
    assert len(key) < 100
    assert len(value) < 4096


async def test_the_dlq_publisher_logs_each_dead_letter_it_writes_by_reason_and_place_only(
    registry: SchemaRegistry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="jigsaw.bus.dlq")
    producer = _Producer()
    dlq = DeadLetterPublisher(
        producer,  # type: ignore[arg-type]
        DeadLetterCodec(registry, "t"),
        "dlq",
        KernelMetrics(CollectorRegistry(), "t"),
    )
    # A detail is often built from the input: here it quotes a name the payload carried.
    await dlq.publish(_record(b"S-Nowak", b"Zoe Nowak"), DeadLetterReason.PAYLOAD_INVALID, "name Zoe Nowak")
    assert len(producer.sent) == 1
    (line,) = [r for r in caplog.records if r.name == "jigsaw.bus.dlq"]
    assert line.levelno == logging.WARNING
    assert line.getMessage() == "dead-lettered in[0]@41: PAYLOAD_INVALID"
    assert "Nowak" not in caplog.text


def test_a_dead_letter_line_may_carry_a_bounded_code_of_the_callers(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="jigsaw.test")
    log_dead_letter(
        logging.getLogger("jigsaw.test"),
        _record(b"k", b"v"),
        DeadLetterReason.HANDLER_REJECTED,
        detail_code="UnauthorizedSender",
    )
    assert caplog.messages == ["dead-lettered in[0]@41: HANDLER_REJECTED (UnauthorizedSender)"]


@pytest.mark.parametrize(
    ("record", "part"),
    [
        (_record(b"k" * 1025, b"v"), "key"),
        (_record(b"k", b"v" * (KAFKA.max_record_bytes + 1)), "value"),
        (_record(b"k", b"v", (("h", b"x" * 8192),)), "headers"),
    ],
)
def test_bounds_name_the_part_and_its_size_only(record: Record, part: str) -> None:
    refused = Bounds.of(KAFKA, ConsumerSettings(group_id="g")).violation(record)
    assert refused is not None
    assert refused[0] == part
    assert refused[1].startswith(f"{part} is ")
    assert "limit" in refused[1]


def test_records_within_bounds_and_configured_bounds() -> None:
    bounds = Bounds.of(KAFKA, ConsumerSettings(group_id="g"))
    assert bounds.violation(_record(b"R-1", b"v" * 1000, (("jigsaw-kind", b"INTEL"),))) is None
    assert bounds.violation(_record(None, None)) is None
    tight = Bounds.of(KAFKA, ConsumerSettings(group_id="g", max_key_bytes=4, max_value_bytes=10))
    assert tight.violation(_record(b"R-12", b"v" * 10)) is None
    assert tight.violation(_record(b"R-123", b"v")) is not None


def _stateful(record: Record, tx: Tx) -> Outcome:
    tx.execute("INSERT INTO seen VALUES (?)", (record.key,))
    if record.value == b"bad":
        raise PayloadInvalid("not a record")
    return COMMIT


def _loop(handler: Any, metrics: KernelMetrics) -> ConsumeLoop:
    # Never started: these tests drive the per-record path alone, without a consumer.
    return ConsumeLoop(
        kafka=KAFKA, consumer=ConsumerSettings(group_id="g"), topics=["in"], handler=handler, metrics=metrics
    )


async def test_the_loop_refuses_an_oversized_record_into_the_store_without_handling_it(
    store: Store, registry: SchemaRegistry
) -> None:
    reg = CollectorRegistry()
    metrics = KernelMetrics(reg, "t")
    codec = DeadLetterCodec(registry, "t")
    loop = _loop(TransactionalHandler(store, _stateful, codec, "dlq", metrics), metrics)
    assert await loop._outcome(_record(HUGE_KEY, HUGE_VALUE)) == COMMIT
    assert store.conn.execute("SELECT count(*) FROM seen").fetchone()[0] == 0, "never handled"
    assert store.offsets() == {("in", 0): 42}, "the dead letter commits with the offset after it"
    (row,) = store.outbox_batch(10)
    assert row.topic == "dlq"
    assert row.key is not None
    assert len(row.key) < 100
    assert len(row.value) < 4096
    letter = codec.decode(row.value)
    assert letter["reason"] == "OVERSIZED"
    assert letter["detail"].startswith("key is 900000 bytes, limit 1024")
    assert reg.get_sample_value(
        "jigsaw_oversized_records_total", {"service": "t", "topic": "in", "part": "key"}
    )
    assert reg.get_sample_value("jigsaw_dead_letters_total", {"service": "t", "reason": "OVERSIZED"}) == 1


async def test_a_plain_handler_gets_an_oversized_dead_letter_to_publish() -> None:
    seen: list[Record] = []

    async def handler(record: Record) -> Outcome:
        seen.append(record)
        return COMMIT

    loop = _loop(handler, KernelMetrics(CollectorRegistry(), "t"))
    outcome = await loop._outcome(_record(b"k", b"v", (("h", b"x" * 9000),)))
    assert isinstance(outcome, DeadLetter)
    assert outcome.reason is DeadLetterReason.OVERSIZED
    assert seen == []
    assert await loop._outcome(_record(b"k", b"v")) == COMMIT
    assert len(seen) == 1


async def test_a_handlers_rejection_of_a_long_key_goes_out_under_a_bounded_key(
    store: Store, registry: SchemaRegistry
) -> None:
    codec = DeadLetterCodec(registry, "t")
    handler = TransactionalHandler(store, _stateful, codec, "dlq", KernelMetrics(CollectorRegistry(), "t"))
    assert await handler(Record("in", 0, 0, b"R" * 1000, b"bad")) == COMMIT
    (row,) = store.outbox_batch(10)
    assert row.key == b"sha256:" + hashlib.sha256(b"R" * 1000).hexdigest().encode()
    assert codec.decode(row.value)["reason"] == "PAYLOAD_INVALID"
