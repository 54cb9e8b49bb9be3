"""A connector, through the real Kafka and the real broker, may put in a return only the categories its
participant ``publishes`` in the agreement: a return with any other is refused whole, before any state,
and nothing of it is released; the categories the police do publish, the scoped contact among them, are
accepted. Each test names the rule it checks and where the rule comes from."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import pytest

from connectors.police import Contact, Incident
from connectors.sdk.adapters import SqlSourceConfig
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.contacts import ContactRouting, RevealRule
from connectors.sdk.records import Upn
from devkit.testkit.broker import Rig
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from tests.integration.connectors.connkit import ConnectorRig, make_source, source_config
from tests.integration.kafkautil import eventually

DEAN = {"subject_ref": "S1", "given": "Dean", "family": "Hartley", "dob": "1988-07-19"}


class UpnConnector(Connector):
    """A police connector that also sends a UPN, which the police do not publish."""

    records: ClassVar[dict[str, type[SourceRecord]]] = {
        "police_incidents": Incident,
        "contact": Contact,
        "identifier_upn": Upn,
    }


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[Rig]:
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


async def _connector(rig: Rig, tmp: Path, **config: object) -> ConnectorRig:
    c = await ConnectorRig.create(rig.kafka, rig.topics, rig.registry, tmp, rig.world, partitions=2)
    c.config = c.config.model_copy(update=config)
    await c.start()
    return c


async def _broker_refusals(rig: Rig) -> list[tuple[str, str]]:
    """(reason, detail) of each record the broker refused, once each (the DLQ is at least once)."""
    codec = DeadLetterCodec(rig.registry, "test")
    letters = [codec.decode(r.value) for r in await read_to_end(rig.kafka, rig.topics.dlq) if r.value]
    once = {
        (d["source_topic"], d["source_partition"], d["source_offset"]): d
        for d in letters
        if d["service"] == "broker"
    }
    return [(d["reason"], d["detail"]) for _, d in sorted(once.items())]


async def _answered(rig: Rig, n: int) -> None:
    async def arrived() -> bool:
        return len(await read_to_end(rig.kafka, rig.topics.intel("police"))) >= n

    await eventually(arrived, what=f"{n} return(s) on the police intel topic")
    await rig.settle()


async def test_a_contact_mapped_to_a_category_the_police_do_not_publish_is_refused_by_the_broker(
    rig: Rig, tmp_path: Path
) -> None:
    # deploy/policy/devon-mash.yaml: police.devon publishes contact_police_intelligence, not
    # contact_mental_health. A connector mapping its MASH desk to the latter (a configuration mistake) has
    # the return carrying it refused by the broker (UnauthorizedSender: POLICY_ERROR), whole, and nothing
    # of it released. A scoped contact travels in a return of its own, so that return is the one refused.
    wrong = ContactRouting(reveals=(RevealRule(category="mental_health", match=("MASH police desk",)),))
    connector = await _connector(rig, tmp_path / "police", contacts=wrong)
    try:
        await rig.referral("R-WRONG", "RED")
        await rig.assign("R-WRONG", "csc-mash")
        await connector.enquire("R-WRONG", [DEAN])
        await _answered(rig, 2)  # the main return, and the contact_mental_health one
    finally:
        await connector.close()
    ((reason, detail),) = await _broker_refusals(rig)
    assert reason == "POLICY_ERROR"
    assert "contact_mental_health" in detail, "refused for the category it may not publish"
    view = await rig.view("csc-mash", "R-WRONG")
    assert "contact_mental_health" not in view, "nothing of a refused return is released"


async def test_an_identifier_scheme_the_police_do_not_publish_is_refused_by_the_broker(
    rig: Rig, tmp_path: Path
) -> None:
    # DfE UPN guidance: the UPN is for education use only, so it travels as its own category, which only
    # education.devon (and the front door) publishes. A police return carrying one is refused whole.
    connector = await _connector(
        rig,
        tmp_path / "police",
        connector=f"{__name__}:UpnConnector",
        source=_with_upn_query(rig, tmp_path),
    )
    try:
        await rig.referral("R-UPN", "RED")
        await rig.assign("R-UPN", "csc-mash")
        await connector.enquire("R-UPN", [DEAN], categories=("contact", "police_incidents", "identifier_upn"))
        await _answered(rig, 1)
    finally:
        await connector.close()
    ((reason, detail),) = await _broker_refusals(rig)
    assert reason == "POLICY_ERROR"
    assert "identifier_upn" in detail, "refused for the category it may not publish"
    assert "police_incidents" not in await rig.view("csc-mash", "R-UPN")


def _with_upn_query(rig: Rig, tmp_path: Path) -> SqlSourceConfig:
    source = source_config(make_source(tmp_path / "upn.sqlite"))
    queries = {
        **source.category_queries,
        "identifier_upn": "SELECT person_id AS source_id, 'A123456789012' AS value,"
        " '2020-09-01' AS valid_from, date('now') AS recorded_on FROM persons WHERE person_id IN :source_ids",
    }
    return source.model_copy(update={"category_queries": queries})


async def test_the_scoped_contact_the_police_do_publish_is_accepted(rig: Rig, tmp_path: Path) -> None:
    # The same agreement: contact_police_intelligence is in police.devon's publishes, so a return whose
    # contact is scoped to it is held and decided like any other (here released to the decision makers,
    # R-CSC-KNOWN-CONTACT, who may know police intelligence).
    scoped = ContactRouting(
        reveals=(RevealRule(category="police_intelligence", match=("MASH police desk",)),)
    )
    connector = await _connector(rig, tmp_path / "police", contacts=scoped)
    try:
        await rig.referral("R-OK", "RED")
        await rig.assign("R-OK", "csc-mash")
        await connector.enquire("R-OK", [DEAN])
        await _answered(rig, 2)  # the main return, and the contact_police_intelligence one
    finally:
        await connector.close()
    assert await _broker_refusals(rig) == []
    view = await rig.view("csc-mash", "R-OK")
    assert "police_incidents" in view, "held and decided"
    assert "contact_police_intelligence" in view
