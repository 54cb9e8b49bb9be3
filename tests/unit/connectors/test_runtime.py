"""The connector runtime and what a source says when it cannot answer: nothing held is an answer, an
unavailable source is retried until it answers (once), and a misconfigured one stops the connector."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import pytest
from prometheus_client import CollectorRegistry

from connectors.police import Contact, Incident
from connectors.sdk.adapters import NothingHeld, SourceAdapter, SourceMisconfigured, SourceUnavailable
from connectors.sdk.base import Connector, Finding, MatchedSubject, SourceRecord
from connectors.sdk.matching import Matcher
from connectors.sdk.metrics import ConnectorMetrics
from connectors.sdk.runtime import ConnectorRuntime
from devkit.testkit.wire import World, make_world
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.loop import call_handler
from jigsaw.bus.records import COMMIT, Record, RetryLater
from jigsaw.bus.store import Store
from jigsaw.errors import ConfigError, FatalError
from jigsaw.metrics import KernelMetrics
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import now_micros

CALLUM = {"source_id": "P-100", "given_names": "Callum", "family_name": "Hartley", "dob": date(2014, 3, 2)}
INCIDENT = {
    "source_id": "P-100",
    "incident_ref": "INC-1",
    "incident_date": "2026-10-01",
    "incident_type": "Theft of pedal cycle",
    "subject_role": "SUSPECT",
    "summary": "Bike taken from school racks",
    "recorded_on": "2026-10-01",
}


class FakeSource(SourceAdapter):
    """Answers from memory, or raises ``failure`` while it is set."""

    name = "fake source"

    def __init__(self) -> None:
        super().__init__()
        self.failure: Exception | None = None
        self.people: list[dict[str, Any]] = [CALLUM]
        self.calls = 0

    async def _start(self) -> None:
        pass

    async def _stop(self) -> None:
        pass

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        self.calls += 1
        if self.failure is not None:
            raise self.failure
        return [dict(p) for p in self.people]

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        if category == "police_incidents":
            return [dict(INCIDENT)] if "P-100" in source_ids else []
        return []


class Incidents(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {"police_incidents": Incident, "contact": Contact}


class StubOutbox:
    def notify(self) -> None:
        pass


class Rig:
    def __init__(self, registry: SchemaRegistry, tmp: Path, connector: type[Connector] = Incidents) -> None:
        self.world: World = make_world(registry)
        self.world.add("hub.devon", "HUB")
        self.world.add("hub.partner-hub", "HUB")
        self.topics = Topics()
        self.source = FakeSource()
        self.store = Store(tmp / "connector.sqlite")
        self.store.open()
        self.prom = CollectorRegistry()
        self.runtime = ConnectorRuntime(
            participant_id="police.devon",
            agency="police",
            connector=connector(self.source),
            adapter=self.source,
            envelopes=self.world.party("police.devon"),
            store=self.store,
            outbox=StubOutbox(),  # type: ignore[arg-type]
            topics=self.topics,
            metrics=ConnectorMetrics(self.prom),
            kernel_metrics=KernelMetrics(self.prom, "connector-police"),
            dead_letters=DeadLetterCodec(registry, "connector-police"),
            matcher=Matcher(),
        )
        self.offset = 0

    def enquiry(self, sender: str = "hub.devon") -> Record:
        rid = f"R-{uuid.uuid4().hex[:8]}"
        body = {
            "enquiry_id": str(uuid.uuid4()),
            "addressed_agencies": ["police.devon"],
            "subject_refs": ["S1"],
            "categories": ["contact", "police_incidents"],
            "purpose": "TRIAGE",
            "lawful_basis": "DPA 2018 Sch 1 para 18",
            "legal_reason": "Children Act s47",
            "isa_ref": "ISA",
            "rag": "RED",
            "deadline": now_micros(),
            "requested_by": "mash",
        }
        identity = {
            "subject_ref": "S1",
            "names": [_fact(name_type="LEGAL", given_names="Callum", family_name="Hartley")],
            "details": [
                _fact(date_of_birth=date(2014, 3, 2), dob_estimated=False, unborn=False, gender="NOT_STATED")
            ],
        }
        value = self.world.party(sender).seal(
            kind="ENQUIRY",
            referral_id=rid,
            body=body,
            sections=[SectionInput("identity", identity)],
            recipients=["police.devon"],
        )
        self.offset += 1
        return Record(self.topics.enquiries, 0, self.offset, rid.encode(), value)

    def returns(self) -> list[dict[str, Any]]:
        """The bodies of the returns in the outbox, opened as the broker."""
        rows = [r for r in self.store.outbox_batch(100) if r.topic == self.topics.intel("police")]
        broker = self.world.party("broker")
        return [broker.open(r.value, r.key).body for r in rows]

    def dead_letters(self) -> int:
        return len([r for r in self.store.outbox_batch(100) if r.topic == self.topics.dlq])

    def counted(self, error: str) -> float:
        value = self.prom.get_sample_value("jigsaw_connector_source_errors_total", {"error": error})
        return value or 0.0


def _fact(**fields: Any) -> dict[str, Any]:
    return {"kind": "FACT", "source": "mash", "recorded_on": date(2026, 11, 1), **fields}


@pytest.fixture
def rig(registry: SchemaRegistry, tmp_path: Path) -> Rig:
    return Rig(registry, tmp_path)


async def test_nothing_held_at_the_source_is_answered_as_not_known(rig: Rig) -> None:
    rig.source.failure = NothingHeld("fake source: GET /persons returned HTTP 404")
    record = rig.enquiry()

    assert await call_handler(rig.runtime, record) == COMMIT
    (body,) = rig.returns()
    assert body["matches"] == [
        {"subject_ref": "S1", "method": "NONE", "confidence": 0.0, "source_record_count": 0}
    ]
    assert body["nothing_held_categories"] == ["contact", "police_incidents"]
    assert rig.dead_letters() == 0
    assert rig.store.offsets() == {(record.topic, 0): record.offset + 1}
    assert rig.counted("NothingHeld") == 1


async def test_nothing_held_from_a_custom_lookup_is_nothing_held_in_every_category(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    class Lookup(Incidents):
        async def lookup(
            self, subjects: Sequence[MatchedSubject], categories: Sequence[str]
        ) -> list[Finding]:
            raise NothingHeld("fake source: GET /records returned HTTP 404")

    rig = Rig(registry, tmp_path, Lookup)
    assert await call_handler(rig.runtime, rig.enquiry()) == COMMIT
    (body,) = rig.returns()
    assert body["matches"][0]["method"] != "NONE", "the subject is known; nothing is held on them"
    assert body["nothing_held_categories"] == ["contact", "police_incidents"]


async def test_an_unavailable_source_is_retried_and_then_answered_once(rig: Rig) -> None:
    rig.source.failure = SourceUnavailable("fake source: GET /persons failed 3 times, last with HTTP 503")
    record = rig.enquiry()

    for _ in range(3):
        outcome = await call_handler(rig.runtime, record)
        assert isinstance(outcome, RetryLater)
        assert "HTTP 503" in outcome.why
    assert rig.returns() == []
    assert rig.dead_letters() == 0
    assert rig.store.offsets() == {}, "the enquiry is not consumed until it is answered"

    rig.source.failure = None  # the source is back
    assert await call_handler(rig.runtime, record) == COMMIT
    assert await call_handler(rig.runtime, record) == COMMIT  # a redelivery after a restart
    (body,) = rig.returns()
    assert body["matches"][0]["method"] != "NONE"
    assert body["nothing_held_categories"] == ["contact"]
    assert rig.counted("SourceUnavailable") == 3


async def test_a_misconfigured_source_stops_the_connector(rig: Rig) -> None:
    rig.source.failure = SourceMisconfigured("fake source: GET /persons returned HTTP 400 Bad Request")
    record = rig.enquiry()

    with pytest.raises(FatalError, match="HTTP 400"):
        await call_handler(rig.runtime, record)
    assert rig.returns() == []
    assert rig.dead_letters() == 0, "not dead-lettered: the enquiry is answered once the source is fixed"
    assert rig.store.offsets() == {}


async def test_a_config_error_from_an_agency_s_own_lookup_is_fatal_not_a_dead_letter(
    registry: SchemaRegistry, tmp_path: Path
) -> None:
    class Broken(Incidents):
        async def lookup(
            self, subjects: Sequence[MatchedSubject], categories: Sequence[str]
        ) -> list[Finding]:
            raise ConfigError("no mapping for the incidents table")

    rig = Rig(registry, tmp_path, Broken)
    with pytest.raises(FatalError, match="fake source: no mapping for the incidents table"):
        await call_handler(rig.runtime, rig.enquiry())
    assert rig.dead_letters() == 0


async def test_only_the_front_door_may_ask_an_agency_to_search(rig: Rig) -> None:
    assert await call_handler(rig.runtime, rig.enquiry(sender="hub.partner-hub")) == COMMIT
    assert rig.returns() == []
    assert rig.dead_letters() == 1
    assert await call_handler(rig.runtime, rig.enquiry()) == COMMIT
    assert len(rig.returns()) == 1, "the front door's enquiry is still answered"


async def test_a_return_id_cannot_be_derived_from_the_enquiry_alone(rig: Rig) -> None:
    from jigsaw.ids import derived_id

    record = rig.enquiry()
    await call_handler(rig.runtime, record)
    (row,) = [r for r in rig.store.outbox_batch(100) if r.topic == rig.topics.intel("police")]
    returned = rig.world.party("broker").open(row.value, row.key).msg_id
    enquiry_id = rig.world.party("police.devon").verify(record.value or b"", record.key).msg_id
    assert returned != derived_id("return", enquiry_id, "police.devon")
