"""The connector runtime through the real Kafka: an enquiry in gives a sealed, signed return out that the
broker's key opens; a malformed source record goes to the DLQ and the connector keeps running."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.connectors.connkit import ConnectorRig
from tests.integration.kafkautil import eventually


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[ConnectorRig]:
    r = await ConnectorRig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


async def _returns(rig: ConnectorRig, n: int) -> list:  # type: ignore[type-arg]
    records = []

    async def arrived() -> bool:
        records[:] = await read_to_end(rig.kafka, rig.topics.intel("police"))
        return len(records) >= n

    await eventually(arrived, what=f"{n} returns on the police intel topic")
    return records


async def test_enquiry_in_gives_a_sealed_signed_return_the_broker_opens(rig: ConnectorRig) -> None:
    # A typo in the forename and an exact date of birth: a probabilistic match.
    enquiry_id = await rig.enquire(
        "R-100", [{"subject_ref": "S1", "given": "Calum", "family": "Hartley", "dob": "2014-03-02"}]
    )
    await rig.enquire(
        "R-OTHER",
        [{"subject_ref": "S1", "given": "X", "family": "Y", "dob": "2000-01-01"}],
        to="health.devon",
    )
    (record,) = await _returns(rig, 1)
    assert b"Hartley" not in (record.value or b""), "no plaintext on the topic"
    opened = rig.world.party("broker").open(record.value, record.key)  # type: ignore[arg-type]
    assert opened.sender == "police.devon"
    assert opened.body["enquiry_id"] == enquiry_id
    (match,) = opened.body["matches"]
    assert match["subject_ref"] == "S1"
    assert match["method"] == "PROBABILISTIC"
    assert 0.5 < match["confidence"] <= 1.0
    incidents = opened.section("police_incidents", "S1")
    assert incidents is not None
    assert incidents.payload is not None
    (item,) = incidents.payload["incidents"]
    assert (item["incident_ref"], item["subject_role"], item["kind"]) == ("INC-1", "SUSPECT", "FACT")
    assert opened.section("contact", "S1") is not None


async def test_a_malformed_source_record_is_dead_lettered_and_the_connector_keeps_running(
    rig: ConnectorRig, registry: SchemaRegistry
) -> None:
    await rig.enquire(
        "R-300", [{"subject_ref": "S1", "given": "Amelia", "family": "Smith-Jones", "dob": "2012-11-30"}]
    )
    await rig.enquire(
        "R-200", [{"subject_ref": "S2", "given": "Dean", "family": "Hartley", "dob": "1988-07-19"}]
    )
    returns = {r.key: r for r in await _returns(rig, 2)}
    broker = rig.world.party("broker")
    bad = broker.open(returns[b"R-300"].value, b"R-300")  # type: ignore[arg-type]
    assert bad.section("police_incidents", "S1") is None, "the invalid record is not sent"
    assert bad.section("contact", "S1") is not None, "the rest of the return still goes"
    good = broker.open(returns[b"R-200"].value, b"R-200")  # type: ignore[arg-type]
    assert good.section("police_incidents", "S2") is not None

    letters = [
        DeadLetterCodec(registry, "t").decode(r.value) for r in await read_to_end(rig.kafka, rig.topics.dlq)
    ]  # type: ignore[arg-type]
    assert [d["reason"] for d in letters] == ["SOURCE_RECORD_INVALID"]
    assert "incident_date" in letters[0]["detail"]
    assert "P-300" not in letters[0]["detail"], "the record is named by a pseudonym, not its id"
    assert "not a date" not in letters[0]["detail"], "the value itself is never quoted"


async def test_only_the_hub_may_send_enquiries(rig: ConnectorRig, registry: SchemaRegistry) -> None:
    from jigsaw.wire.envelope import SectionInput
    from tests.integration.connectors.connkit import identity

    body = {"enquiry_id": "E-X", "addressed_agencies": ["police.devon"], "subject_refs": ["S1"],
            "categories": ["police_incidents"], "purpose": "TRIAGE", "lawful_basis": "x", "legal_reason": "x",
            "isa_ref": "x", "rag": "RED", "deadline": 0, "requested_by": "x"}  # fmt: skip
    forged = rig.world.party("csc-mash").seal(
        kind="ENQUIRY", referral_id="R-X", body=body, recipients=["police.devon"],
        sections=[SectionInput("identity", identity("S1", "Callum", "Hartley", "2014-03-02"))],
    )  # fmt: skip
    from jigsaw.bus.clients import Producer

    async with Producer(rig.kafka) as producer:
        await producer.send_and_wait(rig.topics.enquiries, forged, key=b"R-X")

    async def dead_lettered() -> bool:
        return len(await read_to_end(rig.kafka, rig.topics.dlq)) == 1

    await eventually(dead_lettered, what="the subscriber's enquiry dead-lettered")
    (letter,) = [
        DeadLetterCodec(registry, "t").decode(r.value) for r in await read_to_end(rig.kafka, rig.topics.dlq)
    ]  # type: ignore[arg-type]
    assert letter["reason"] == "POLICY_ERROR"
    assert await read_to_end(rig.kafka, rig.topics.intel("police")) == [], "no search was run for it"


async def test_its_probes_answer_live_and_ready_and_its_metrics_say_ready(rig: ConnectorRig) -> None:
    base = f"http://127.0.0.1:{rig.port}"
    async with httpx.AsyncClient(base_url=base) as http:
        live = await http.get("/health/live")
        assert (live.status_code, live.json()["status"]) == (200, "ok")

        async def ready() -> bool:
            return (await http.get("/health/ready")).status_code == 200

        await eventually(ready, what="the connector ready")
        checks = (await http.get("/health/ready")).json()["checks"]
        assert checks == dict.fromkeys(("event_loop", "keys", "store", "consumer", "tasks"), "ok")
        assert 'jigsaw_ready{service="connector-police"} 1.0' in (await http.get("/metrics/")).text
        # A task failing for good makes it unready at once, named.
        rig.runtime.kernel_metrics.task_up("outbox", False)  # type: ignore[union-attr]
        refused = await http.get("/health/ready")
        assert (refused.status_code, refused.json()["checks"]["tasks"]) == (503, "failed: outbox")
