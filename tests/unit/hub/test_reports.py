"""The front door's report handler, without Kafka: a REPORT opens its referral once, and every other kind
of REPORT is a typed dead letter that opens nothing; returns are skipped without error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from connectors.sdk.intake import ReportReferral, report_message
from devkit.testkit.broker import POLICY, setup_world
from devkit.testkit.wire import World, incidents, intel_body
from jigsaw.bus.clients import Producer
from jigsaw.bus.dlq import DeadLetterCodec
from jigsaw.bus.records import COMMIT, Record
from jigsaw.bus.store import Store
from jigsaw.ids import new_msg_id, new_referral_id
from jigsaw.metrics import KernelMetrics
from jigsaw.roster import load_roster
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import ENVELOPE, SectionInput, _signing_bytes
from jigsaw.wire.framing import micros
from services.hub.config import HubSettings
from services.hub.intake import Intake
from services.hub.reports import SCHEMA, ReportIntake, is_front_door

REFERRAL: dict[str, Any] = {
    "subjects": [
        {
            "subject_ref": "S1",
            "role": "CHILD",
            "given_names": "Callum",
            "family_name": "Hartley",
            "dob": "2014-03-02",
            "postcode": "EX4 1AA",
        },
        {"subject_ref": "S2", "role": "PARENT", "given_names": "Dean", "family_name": "Hartley"},
    ],
    "concerns": ["NEGLECT"],
    "source_type": "POLICE",
    "summary": "Child found alone late at night",
    "referrer": {"name": "PC 1234 Ward", "relationship_to_child": "attending officer"},
}


class Rig:
    def __init__(self, registry: SchemaRegistry, tmp: Path) -> None:
        self.world: World = setup_world(registry, POLICY)
        self.topics = Topics()
        self.store = Store(tmp / "reports.sqlite", SCHEMA)
        self.store.open()
        self.known: set[str] = set()
        self.opened: list[str] = []
        self.offset = 0
        roster = load_roster(POLICY)
        hub = self.world.party("hub.devon")

        def make_intake(producer: Producer) -> Intake:
            return Intake(hub, producer, self.topics, roster.connectors(), {"GREEN": 72.0})

        self.handler = ReportIntake(
            envelopes=hub,
            roster=roster,
            topics=self.topics,
            store=self.store,
            make_intake=make_intake,
            dead_letters=DeadLetterCodec(registry, "hub-csc-mash"),
            metrics=KernelMetrics(CollectorRegistry(), "hub-csc-mash"),
            known=self.known.__contains__,
            on_opened=self.opened.append,
        )

    def report(
        self,
        rid: str,
        sender: str = "police.devon",
        to: str = "hub.devon",
        referral: dict[str, Any] | None = None,
        agency: str = "police",
    ) -> bytes:
        body, sections = report_message(
            ReportReferral.model_validate(referral or REFERRAL),
            agency=agency,
            source=sender,
            return_msg_id=new_msg_id(),
        )
        return self.world.party(sender).seal(
            kind="REPORT", referral_id=rid, body=body, sections=sections, recipients=[to]
        )

    async def send(self, rid: str, value: bytes, agency: str = "police") -> None:
        self.offset += 1
        record = Record(self.topics.intel(agency), 0, self.offset, rid.encode(), value)
        assert await self.handler(record) == COMMIT
        assert self.store.offsets()[(record.topic, 0)] == self.offset + 1

    def sent(self, topic: str) -> list[bytes]:
        rows = self.store.outbox_batch(1000)
        return [r.value for r in rows if r.topic == topic]

    def refusals(self) -> list[str]:
        codec = self.world.registry
        return [codec.decode(v, "jigsaw.body.DeadLetter")["reason"] for v in self.sent(self.topics.dlq)]


@pytest.fixture
def rig(registry: SchemaRegistry, tmp_path: Path) -> Rig:
    return Rig(registry, tmp_path)


async def test_a_report_opens_its_referral_once_with_what_it_sealed(rig: Rig) -> None:
    rid = new_referral_id()
    value = rig.report(rid)
    await rig.send(rid, value)
    await rig.send(rid, value)  # an exact copy, as an outbox re-sends after a crash
    assert rig.opened == [rid], "the API is told of it once, so that it may assign it"
    (referral,) = rig.sent(rig.topics.referrals)
    opened = rig.world.party("broker").open(referral, rid.encode())
    assert (opened.kind, opened.sender, opened.referral_id) == ("REFERRAL", "hub.devon", rid)
    assert opened.body["source_type"] == "POLICE"
    assert [s["role"] for s in opened.body["subject_refs"]] == ["CHILD", "PARENT"]
    child = opened.section("identity", "S1")
    assert child is not None
    assert child.payload is not None
    assert child.payload["names"][0]["family_name"] == "Hartley"
    assert "addresses" not in child.payload, "Identity v2: the address is a locating section of its own"
    details = opened.section("referral_details", "S1")
    assert details is not None
    assert details.payload is not None
    assert details.payload["concerns"][0]["summary"] == "Child found alone late at night"
    referrer = opened.section("referrer_identity", "S1")
    assert referrer is not None
    assert referrer.payload is not None
    assert referrer.payload["referrers"][0]["name"] == "PC 1234 Ward"
    enquiries = rig.sent(rig.topics.enquiries)
    assert len(enquiries) == len(load_roster(POLICY).agencies), "every agency is asked, as the API asks"
    body = rig.world.party("police.devon").verify(enquiries[-1], rid.encode()).body
    assert body["requested_by"] == "police.devon"
    assert rig.refusals() == []


async def test_returns_and_what_cannot_be_decoded_are_skipped_without_error(rig: Rig) -> None:
    rid = new_referral_id()
    ret = rig.world.party("police.devon").seal(
        kind="INTEL",
        referral_id=rid,
        body=intel_body(),
        sections=[SectionInput("police_incidents", incidents())],
        recipients=["broker"],
    )
    await rig.send(rid, ret)
    await rig.send(rid, b"not an envelope")
    assert rig.store.outbox_batch(10) == []


async def test_a_report_on_another_agency_s_topic_or_in_its_name_is_refused(rig: Rig) -> None:
    rid = new_referral_id()
    await rig.send(rid, rig.report(rid), agency="education")
    await rig.send(rid, rig.report(rid, agency="education"))
    await rig.send(rid, rig.report(rid, sender="hub.devon", agency="police"))
    assert rig.refusals() == ["POLICY_ERROR"] * 3
    assert rig.sent(rig.topics.referrals) == []


async def test_a_report_sealed_by_or_to_someone_else_is_refused(rig: Rig) -> None:
    rid = new_referral_id()
    await rig.send(rid, rig.report(rid, to="broker"))
    # Education's sealed sections under police's own signature: each data key names its wrapper.
    schema = rig.world.registry.latest(ENVELOPE)
    env = rig.world.registry.decode(rig.report(rid), schema)
    theirs = rig.world.registry.decode(rig.report(rid, sender="education.devon", agency="education"), schema)
    env["sections"] = theirs["sections"]
    env["signature"] = rig.world.keys["police.devon"].current.sign.sign(
        _signing_bytes(env, micros(env["created_at"]))
    )
    await rig.send(rid, rig.world.registry.encode(schema, env))
    assert rig.refusals() == ["NOT_A_RECIPIENT", "CONTEXT_MISMATCH"]
    assert rig.sent(rig.topics.referrals) == []


async def test_a_referral_open_already_or_one_the_api_would_refuse_is_not_opened(rig: Rig) -> None:
    rid = new_referral_id()
    await rig.send(rid, rig.report(rid))
    await rig.send(rid, rig.report(rid))  # a second report for the same referral
    known = new_referral_id()
    rig.known.add(known)
    await rig.send(known, rig.report(known))
    other = new_referral_id()
    # Listed twice: the API refuses a repeated concern, and so a report with one opens nothing.
    await rig.send(other, rig.report(other, referral={**REFERRAL, "concerns": ["NEGLECT", "NEGLECT"]}))
    assert rig.refusals() == ["PAYLOAD_INVALID"] * 3
    assert len(rig.sent(rig.topics.referrals)) == 1


def test_only_the_front_door_reads_reports() -> None:
    roster = load_roster(POLICY)
    assert is_front_door(HubSettings(subscriber="csc-mash"), roster)
    assert not is_front_door(HubSettings(subscriber="police-mash"), roster)
    assert is_front_door(HubSettings(subscriber="police-mash", front_door="police-mash"), roster)


async def test_a_record_delivered_again_at_an_offset_already_handled_is_not_handled_twice(rig: Rig) -> None:
    rid = new_referral_id()
    record = Record(rig.topics.intel("education"), 0, 5, rid.encode(), rig.report(rid))
    assert await rig.handler(record) == COMMIT
    assert await rig.handler(record) == COMMIT  # fetched before the loop's seek on assignment
    assert rig.refusals() == ["POLICY_ERROR"], "one dead letter, not one per delivery"
