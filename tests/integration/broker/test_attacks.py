"""Participants that misbehave, against the broker through the real Kafka: each is refused with a typed
reason before it touches any state, the refusal is on the dead-letter topic, and good input after it goes on.

And the audit that must hold when they do: consent and enquiries are on the chain, and every decision names
the subject it concerns.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from devkit.testkit.broker import Rig, payload, sections
from jigsaw.bus.reader import read_to_end
from jigsaw.config import KafkaSettings
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened, OpenedSection, SectionInput


@pytest.fixture
async def rig(
    kafka: KafkaSettings, topics: Topics, registry: SchemaRegistry, tmp_path: Path
) -> AsyncIterator[Rig]:
    r = await Rig.create(kafka, topics, registry, tmp_path)
    await r.start()
    yield r
    await r.close()


async def _refusals(rig: Rig) -> list[tuple[str, str]]:
    """(reason, source topic) of each refused input, once each: the DLQ is read by source coordinates."""
    seen = {
        (d["source_topic"], d["source_partition"], d["source_offset"]): d for d in await rig.dead_letters()
    }
    return [(d["reason"], d["source_topic"]) for _, d in sorted(seen.items())]


async def test_an_agency_cannot_claim_another_agencys_return_id(rig: Rig) -> None:
    await rig.referral("R-CLAIM", "RED")
    await rig.assign("R-CLAIM", "csc-mash")
    police_id = str(uuid.uuid4())
    # Housing sends first, under the id police are about to use, on police's topic and then on its own.
    await rig.intel(
        "housing.devon", "R-CLAIM", sections("housing"), msg_id=police_id, topic=rig.topics.intel("police")
    )
    await rig.settle()
    await rig.intel("police.devon", "R-CLAIM", sections("police_incidents"), msg_id=police_id)
    await rig.settle()

    view = await rig.view("csc-mash", "R-CLAIM")
    assert view.get("police_incidents") == ("RELEASE", ""), "police's real return must reach the MASH"
    assert "housing" not in view
    assert await _refusals(rig) == [("POLICY_ERROR", rig.topics.intel("police"))]


async def test_an_id_already_used_by_one_sender_is_refused_to_another(rig: Rig) -> None:
    await rig.referral("R-COPY", "RED")
    await rig.assign("R-COPY", "csc-mash")
    first = await rig.intel("police.devon", "R-COPY", sections("police_incidents"))
    await rig.settle()
    await rig.intel("housing.devon", "R-COPY", sections("housing"), msg_id=first)
    await rig.intel("housing.devon", "R-COPY", sections("housing"))
    await rig.settle()

    view = await rig.view("csc-mash", "R-COPY")
    assert view["police_incidents"] == ("RELEASE", "")
    assert view["housing"] == ("RELEASE", ""), "housing's own honest return still goes through"
    assert [reason for reason, _ in await _refusals(rig)] == ["REPLAY"]


async def test_an_agency_may_not_send_an_enquiry_and_a_hubs_enquiry_is_audited(rig: Rig) -> None:
    await rig.enquiry("R-ENQ", ["police.devon"], sender="housing.devon")
    enquiry = await rig.enquiry("R-ENQ", ["police.devon", "health.devon"], subjects=("S1", "S2"))
    await rig.settle()

    assert [reason for reason, _ in await _refusals(rig)] == ["POLICY_ERROR"]
    asked = [a for a in await rig.audit("R-ENQ") if a["event"] == "ENQUIRY"]
    assert {(a["subscriber"], a["subject_ref"]) for a in asked} == {
        (agency, subject) for agency in ("police.devon", "health.devon") for subject in ("S1", "S2")
    }
    assert {a["source_msg_id"] for a in asked} == {enquiry}
    assert {a["actor"] for a in asked} == {"hub.devon"}
    assert all(a["purpose"] == "TRIAGE" and a["lawful_basis"] == "DPA2018-Sch1-para18" for a in asked)
    assert all(a["categories"] == ["identity", "police_incidents"] for a in asked)


async def test_a_refusal_of_consent_is_audited_even_when_it_changes_nothing(rig: Rig) -> None:
    await rig.referral("R-REFUSE", "GREEN")
    consent = await rig.consent("R-REFUSE", "CONSENT_REFUSED", decided_by="sw-17")
    await rig.settle()

    (record,) = [a for a in await rig.audit("R-REFUSE") if a["event"] == "CONSENT"]
    assert record["source_msg_id"] == consent
    assert record["actor"] == "hub.devon"
    assert record["rule_id"] == "CONSENT_REFUSED"
    assert "sw-17" not in record["reason"], "the decision maker's name travels sealed, not in the audit"
    assert record["consent_state"] is not None


async def test_each_decision_names_the_subject_it_concerns(rig: Rig) -> None:
    await rig.referral("R-THREE", "RED")
    await rig.assign("R-THREE", "csc-mash")
    items = [SectionInput("identity", payload(s)) for s in ("S1", "S2", "S3")]
    returned = await rig.intel("police.devon", "R-THREE", items)
    await rig.settle()

    rows = [
        a
        for a in await rig.audit("R-THREE")
        if a["source_msg_id"] == returned and a["subscriber"] == "csc-mash" and a["outcome"] == "RELEASE"
    ]
    assert sorted(a["subject_ref"] for a in rows) == ["S1", "S2", "S3"]
    assert {a["actor"] for a in rows} == {"police.devon"}
    assert {a["category"] for a in rows} == {"identity"}


async def test_only_the_front_door_records_consent_and_only_on_its_topic(rig: Rig) -> None:
    await rig.referral("R-CONSENT", "GREEN")
    await rig.assign("R-CONSENT", "partner-hub")
    await rig.decision("R-CONSENT", "OUTCOME", outcome="EARLY_HELP")
    await rig.intel("housing.devon", "R-CONSENT", sections("housing"))
    await rig.settle()
    before = await rig.view("partner-hub", "R-CONSENT")
    # A connector tries to give the family's agreement, and a hub message arrives on the wrong topic.
    await rig.consent("R-CONSENT", "CONSENT_GIVEN", sender="housing.devon")
    await rig.send(
        "hub.devon",
        "ASSIGNMENT",
        "R-CONSENT",
        {"subscribers": ["partner-hub"], "action": "ASSIGN", "assigned_by": "x", "assigned_at": 0},
        topic=rig.topics.decisions,
    )
    await rig.settle()
    assert await rig.view("partner-hub", "R-CONSENT") == before
    assert [reason for reason, _ in await _refusals(rig)] == ["POLICY_ERROR", "POLICY_ERROR"]
    # The honest consent still works afterwards.
    await rig.consent("R-CONSENT", "CONSENT_GIVEN")
    await rig.settle()
    assert (await rig.view("partner-hub", "R-CONSENT"))["housing"] == ("RELEASE", "")


async def test_an_agency_may_publish_only_what_it_holds_and_only_in_its_own_name(rig: Rig) -> None:
    await rig.referral("R-FORGE", "RED")
    await rig.assign("R-FORGE", "csc-mash")
    await rig.intel("housing.devon", "R-FORGE", sections("police_intelligence"))
    await rig.intel("housing.devon", "R-FORGE", sections("housing"), agency="police")
    await rig.intel("housing.devon", "R-FORGE", sections("housing"))
    await rig.settle()
    view = await rig.view("csc-mash", "R-FORGE")
    assert "police_intelligence" not in view
    assert view["housing"] == ("RELEASE", "")
    assert [reason for reason, _ in await _refusals(rig)] == ["POLICY_ERROR", "POLICY_ERROR"]


async def test_a_desks_hub_may_review_its_own_sections_and_change_nothing_else(rig: Rig) -> None:
    await rig.referral("R-DESK", "GREEN")
    await rig.assign("R-DESK", "csc-mash")
    await rig.intel("police.devon", "R-DESK", sections("police_incidents"))
    await rig.settle()
    before = {sub: await rig.view(sub, "R-DESK") for sub in ("csc-mash", "partner-hub")}
    desk = "hub.partner-hub"
    await rig.assign("R-DESK", "partner-hub", sender=desk)
    await rig.decision("R-DESK", "RAG_CHANGE", sender=desk, rag_from="GREEN", rag_to="RED")
    await rig.decision("R-DESK", "OUTCOME", sender=desk, outcome="NO_FURTHER_ACTION")

    def target(subscriber: str) -> dict[str, object]:
        return {
            "msg_id": str(uuid.uuid4()),
            "subscriber": subscriber,
            "category": "police_incidents",
            "subject_ref": "S1",
            "approved": True,
        }

    await rig.decision("R-DESK", "REVIEW_APPROVAL", sender=desk, review_target=target("csc-mash"))
    await rig.decision("R-DESK", "REVIEW_APPROVAL", sender=desk, review_target=target("partner-hub"))
    await rig.settle()

    after = {sub: await rig.view(sub, "R-DESK") for sub in ("csc-mash", "partner-hub")}
    # The one review it may send reaches the decision makers with its notes; nothing else moved.
    assert {
        sub: {c: v for c, v in view.items() if c != "case_notes"} for sub, view in after.items()
    } == before
    assert [reason for reason, _ in await _refusals(rig)] == ["POLICY_ERROR"] * 4


async def test_a_desk_learns_of_a_referral_only_once_assigned(rig: Rig) -> None:
    await rig.referral("R-QUIET", "RED")
    await rig.enquiry("R-QUIET", ["police.devon"])
    await rig.decision("R-QUIET", "RAG_CHANGE", rag_from="RED", rag_to="AMBER", decided_by="sw-2")
    await rig.assign("R-QUIET", "csc-mash")
    await rig.settle()
    assert await rig.releases("partner-hub", "R-QUIET") == [], "an unassigned desk is told nothing"
    kinds = [o.kind for o in await rig.releases("csc-mash", "R-QUIET")]
    assert sorted(kinds) == ["DECISION", "ENQUIRY", "REFERRAL"]
    (enquiry,) = [o for o in await rig.releases("csc-mash", "R-QUIET") if o.kind == "ENQUIRY"]
    assert all(s.withheld is not None and s.payload is None for s in enquiry.sections)

    await rig.assign("R-QUIET", "partner-hub")
    await rig.settle()
    assert sorted(o.kind for o in await rig.releases("partner-hub", "R-QUIET")) == sorted(kinds)


async def test_a_decisions_reason_and_maker_travel_sealed_and_reach_only_the_decision_makers(
    rig: Rig,
) -> None:
    await rig.referral("R-NOTES", "RED")
    await rig.assign("R-NOTES", "csc-mash", "police-mash")
    await rig.decision(
        "R-NOTES", "RAG_CHANGE", rag_from="RED", rag_to="AMBER", reason="bruising seen", decided_by="tm-Ellis"
    )
    await rig.settle()
    raw = b"".join(r.value or b"" for r in await read_to_end(rig.kafka, rig.topics.decisions))
    assert b"bruising" not in raw
    assert b"Ellis" not in raw

    def notes(subscriber_releases: list[Opened]) -> list[OpenedSection]:
        (decision,) = [o for o in subscriber_releases if o.kind == "DECISION"]
        return [s for s in decision.sections if s.category == "case_notes"]

    (csc,) = notes(await rig.releases("csc-mash", "R-NOTES"))
    assert csc.payload is not None
    assert csc.payload["notes"][0]["text"] == "bruising seen"
    (desk,) = notes(await rig.releases("police-mash", "R-NOTES"))
    assert desk.payload is None
    assert desk.withheld is not None
