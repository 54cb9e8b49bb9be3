"""Kafka stops mid-stream: the connector keeps accepting work into its outbox, Kafka comes back, and every
return is delivered exactly once, also across a connector restart while Kafka is down."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from connectors.police import Incident
from devkit.localkafka import LocalKafka, LocalKafkaSettings
from jigsaw.bus.reader import read_to_end
from jigsaw.bus.records import HEADER_MSG_ID
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.connectors.connkit import ConnectorRig
from tests.integration.kafkautil import eventually

pytestmark = pytest.mark.usefixtures("collect_broken_connections")


@pytest.fixture
def private(tmp_path: Path) -> Iterator[LocalKafka]:
    lk = LocalKafka(LocalKafkaSettings(home=tmp_path / "kafka", heap_mb=256), progress=print)
    yield lk
    lk.down()


def _incident(n: int) -> Incident:
    return Incident(
        source_id="P-100",
        recorded_on=date(2026, 11, 1),
        incident_ref=f"CTN-{n}",
        incident_date=date(2026, 11, 1),
        incident_type="Coming to notice",
        subject_role="PRESENT",
        summary="Child found alone late at night",
    )


async def _delivered(kafka: KafkaSettings, topic: str, expected: set[str]) -> bool:
    copies: dict[str, set[bytes | None]] = defaultdict(set)
    for r in await read_to_end(kafka, topic):
        copies[(r.header(HEADER_MSG_ID) or b"").decode()].add(r.value)
    assert all(len(v) == 1 for v in copies.values()), "a re-sent return is an exact copy"
    assert set(copies) <= expected, "nothing is published that was not reported"
    return set(copies) == expected


async def test_kafka_outage_and_restart_lose_and_duplicate_nothing(
    private: LocalKafka, registry: SchemaRegistry, tmp_path: Path
) -> None:
    status = await asyncio.to_thread(private.up)
    assert status.bootstrap is not None
    kafka = private.client(request_timeout_ms=5000)
    topics = Topics()
    rig = await ConnectorRig.create(kafka, topics, registry, tmp_path)
    rig.config = rig.config.model_copy(
        update={"consumer": rig.config.consumer_settings().model_copy(update={"shutdown_grace_s": 2.0})}
    )
    await rig.start()
    assert rig.runtime is not None
    reported = {rig.runtime.report(subject_ref="S1", category="police_incidents", records=[_incident(0)])[1]}

    await asyncio.to_thread(private.down)  # the broker goes away mid-stream
    for n in range(1, 21):
        reported.add(
            rig.runtime.report(subject_ref="S1", category="police_incidents", records=[_incident(n)])[1]
        )
    depth, _ = rig.runtime.store.outbox_stats()
    assert depth >= 20, "work is accepted into the outbox while Kafka is down"
    await asyncio.to_thread(private.up)
    await eventually(
        lambda: _delivered(kafka, topics.intel("police"), reported),
        timeout_s=120,
        what="every report delivered once Kafka is back",
    )

    # Kafka down again, the connector restarted with reports still in its outbox.
    await asyncio.to_thread(private.down)
    for n in range(21, 31):
        reported.add(
            rig.runtime.report(subject_ref="S1", category="police_incidents", records=[_incident(n)])[1]
        )
    await rig.close()
    await asyncio.to_thread(private.up)
    await rig.start()
    await eventually(
        lambda: _delivered(kafka, topics.intel("police"), reported),
        timeout_s=120,
        what="the restarted connector delivered what its outbox held",
    )
    await rig.close()
    assert len(reported) == 31
