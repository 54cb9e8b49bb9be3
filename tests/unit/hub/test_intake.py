"""The intake's field mapping, opened as the broker and the agencies open what it seals: Referral.v2's
clear body, Identity v2 with each identifier scheme and the address in their own sections, the child's
voice sealed, unborn subjects, Enquiry.v2's agreement reference and lawful basis, the timescales, subjects
added mid-way and per-person consent."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from devkit.testkit.wire import World
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Opened
from jigsaw.wire.framing import micros
from jigsaw.workhours import WorkingHours
from services.hub.intake import CaseGround, ReferralFacts
from services.hub.subjects import SubjectIn
from tests.unit.hub.kit import TOPICS, Sent, hub_world, intake

CHILD = SubjectIn(
    "S1", "CHILD", "Callum", "Hartley", date(2014, 3, 2), postcode="EX4 1AA", nhs="9434765919", upn="A123"
)
MOTHER = SubjectIn(
    "S2", "PARENT", "Jo", "Hartley", date(1990, 1, 5), pnc="98/1234567X", local="DCC-77", postcode="EX4 1AA"
)
UNBORN = SubjectIn(
    "S3", "CHILD", unborn=True, expected_date_of_delivery=date(2027, 2, 1), mother_subject_ref="S2"
)
FACTS = ReferralFacts(
    referrer_type="PROFESSIONAL",
    referrer_anonymity_from_family=True,
    immediate_risk=True,
    parents_aware=False,
    child_voice="I don't want to go home",
)


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return hub_world(registry)


async def _open(world: World, sent: Sent, **kw: object) -> tuple[str, Opened]:
    rid, _ = await intake(world, sent).open_referral(
        subjects=kw.get("subjects", [CHILD, MOTHER, UNBORN]),  # type: ignore[arg-type]
        concerns=["DOMESTIC_ABUSE", "YOUNG_CARER"],
        source_type="SCHOOL",
        rag=str(kw.get("rag", "UNKNOWN")),
        summary="Child disclosed violence at home",
        referrer={"name": "Ms Dee", "relationship_to_child": "DSL", "is_professional": True},
        agencies=["police", "health", "education"],
        facts=FACTS,
    )
    (referral,) = sent.opened(world, TOPICS.referrals, "broker")
    return rid, referral


async def test_the_referral_body_says_what_referral_v2_adds_and_no_personal_data(world: World) -> None:
    """Referral.v2 (issue #15): a professional or public referrer decided at intake as clear metadata, so
    the broker redacts only a public referrer; immediate risk, parents aware, whether the child's voice
    was recorded; unborn subjects with their mother; confidential-address markers per person."""
    _, referral = await _open(world, Sent())
    body = referral.body
    assert body["referrer_type"] == "PROFESSIONAL"
    assert body["referrer_anonymity_from_family"] is True
    assert (body["immediate_risk"], body["parents_aware"], body["child_voice_recorded"]) == (
        True,
        False,
        True,
    )
    assert body["concerns"] == ["DOMESTIC_ABUSE", "YOUNG_CARER"]
    unborn = body["subject_refs"][2]
    assert unborn == {
        "subject_ref": "S3",
        "role": "CHILD",
        "unborn": True,
        "mother_subject_ref": "S2",
        "confidential_address": False,
    }
    assert "don't want" not in repr(body), "the child's words travel sealed, never in the clear body"


async def test_identity_identifiers_and_address_are_sealed_each_in_its_own_section(world: World) -> None:
    """Identity v2 carries no identifiers or addresses: each scheme is its own category, so the broker
    releases each by role (the UPN is for education use only: DfE UPN guidance), and the address is a
    locating category of its own (withheld under a confidential-address marker)."""
    _, referral = await _open(world, Sent())
    by = {(s.category, s.subject_ref): s.payload for s in referral.sections}
    identity = by[("identity", "S1")]
    assert identity is not None
    assert "identifiers" not in identity
    assert "addresses" not in identity
    assert identity["names"][0]["family_name"] == "Hartley"
    nhs = by[("identifier_nhs", "S1")]
    assert nhs is not None
    assert nhs["identifiers"][0]["scheme"] == "NHS"
    assert by[("identifier_upn", "S1")] is not None
    assert by[("identifier_pnc", "S2")] is not None
    local = by[("identifier_local", "S2")]
    assert local is not None
    assert local["identifiers"][0]["scheme"] == "COUNCIL_ID"
    address = by[("address", "S1")]
    assert address is not None
    assert address["addresses"][0]["postcode"] == "EX4 1AA"
    details = by[("referral_details", "S1")]
    assert details is not None
    concern = details["concerns"][0]
    assert concern["child_voice"] == "I don't want to go home"
    assert (concern["immediate_risk"], concern["parents_aware"]) == (True, False)


async def test_an_unborn_child_has_an_expected_delivery_date_and_its_mother_and_no_name(world: World) -> None:
    """An unborn child has no name or NHS number yet; agencies match through the mother (DOMAIN.md)."""
    _, referral = await _open(world, Sent())
    identity = referral.section("identity", "S3")
    assert identity is not None
    assert identity.payload is not None
    assert identity.payload["names"] == []
    (details,) = identity.payload["details"]
    assert details["unborn"] is True
    assert details["expected_date_of_delivery"] == date(2027, 2, 1)
    assert details["date_of_birth"] is None
    (mother,) = identity.payload["relationships"]
    assert (mother["related_subject_ref"], mother["relationship"]) == ("S2", "MOTHER")
    assert not [s for s in referral.sections if s.subject_ref == "S3" and s.category != "identity"]


async def test_each_enquiry_carries_only_the_identifiers_the_agency_itself_holds(world: World) -> None:
    """No identifier is shared across agencies (DOMAIN.md, "Identifiers and matching"): an enquiry carries
    the schemes its agency publishes under the agreement, and never a confidential address."""
    sent = Sent()
    hidden = SubjectIn("S2", "PARENT", "Jo", "Hartley", postcode="TQ1 1ZZ", confidential_address=True)
    await _open(world, sent, subjects=[CHILD, hidden])
    health = sent.opened(world, TOPICS.enquiries, "health.devon")[0]
    education = sent.opened(world, TOPICS.enquiries, "education.devon")[0]
    police = sent.opened(world, TOPICS.enquiries, "police.devon")[0]
    assert {s.category for s in health.sections} == {"identity", "identifier_nhs", "address"}
    assert {s.category for s in education.sections} == {"identity", "identifier_upn", "address"}
    assert {s.category for s in police.sections} == {"identity", "address"}
    assert [s.subject_ref for s in health.sections if s.category == "address"] == ["S1"]


async def test_an_enquiry_names_the_agreement_and_its_purposes_lawful_basis(world: World) -> None:
    """Each enquiry carries the agreement's reference and the purpose's own basis: Article 6; Article 9
    with the DPA 2018 Sch 1 condition for special-category data; Article 10 for criminal-offence data;
    DPA 2018 Part 3 when the one asked is a competent authority (the police) (issue #15; DOMAIN.md)."""
    sent = Sent()
    await _open(world, sent, rag="RED")
    police = sent.opened(world, TOPICS.enquiries, "police.devon")[0].body
    health = sent.opened(world, TOPICS.enquiries, "health.devon")[0].body
    assert police["isa_ref"] == health["isa_ref"] == "DEVON-MASH-ISA-2026"
    assert police["purpose"] == "TRIAGE"
    assert police["legal_reason"] == "Children Act 1989 s17 and s47"
    assert "Art 10" in police["lawful_basis"]
    assert "Part 3" in police["lawful_basis"]
    assert "Art 9" in health["lawful_basis"]
    assert "Part 3" not in health["lawful_basis"]
    assert "Art 10" not in health["lawful_basis"]
    assert "identifier_pnc" in police["categories"]
    assert "address" in police["categories"]
    assert (police["ground"], police["family_informed"]) == (None, None)


async def test_an_unrated_contact_is_asked_only_whether_it_is_known(world: World) -> None:
    """At screening only "known / not known + contact" is asked (the agreement's screening categories)."""
    sent = Sent()
    await _open(world, sent, rag="UNKNOWN")
    police = sent.opened(world, TOPICS.enquiries, "police.devon")[0].body
    assert police["purpose"] == "SCREENING"
    assert police["categories"] == ["identity", "contact", "contact_police_intelligence"]
    assert police["legal_reason"] == "Children Act 2004 s11"


def test_an_unrated_or_immediate_risk_contact_gets_the_most_urgent_timescale(
    registry: SchemaRegistry,
) -> None:
    """An unrated contact is treated as the most urgent until someone rates it (DOMAIN.md, "Working
    hours"; Referral.v2's Rag: UNKNOWN gets the most urgent deadline), and so is one whose referrer says
    the child is at immediate risk."""
    world = hub_world(registry)
    london = ZoneInfo("Europe/London")
    clock = WorkingHours()
    mash = intake(world, Sent(), clock=clock)
    monday = micros(datetime(2026, 6, 15, 10, 0, tzinfo=london))
    red = micros(datetime(2026, 6, 15, 14, 0, tzinfo=london))
    assert mash.deadline("UNKNOWN", monday) == red
    assert mash.deadline("GREEN", monday, immediate_risk=True) == red
    assert mash.deadline("RED", monday) == red
    # 72 working hours of 8 a day: nine working days on, Friday 26 June at 10:00.
    assert mash.deadline("GREEN", monday) == micros(datetime(2026, 6, 26, 10, 0, tzinfo=london))
    clock_hours = intake(world, Sent())
    assert clock_hours.deadline("UNKNOWN", monday) == monday + 4 * 3_600_000_000


async def test_a_subject_added_mid_way_is_sealed_and_asked_about_with_the_case_ground(world: World) -> None:
    """A sibling or a new partner joins a case after intake (issue #15): a SUBJECT_ADDED decision with
    their sealed identity, a marker first if their address is confidential, and enquiries about them that
    carry the case's own para 18(2) ground and whether the family was told."""
    sent = Sent()
    partner = SubjectIn("S4", "HOUSEHOLD_MEMBER", "Lee", "Marsh", date(1985, 4, 4), postcode="TQ2 5AA")
    partner = SubjectIn(**{**partner.__dict__, "confidential_address": True})
    ground = CaseGround("WOULD_PREJUDICE_PROTECTION", False, "INCREASED_RISK_TO_CHILD")
    _, enquiries = await intake(world, sent).add_subject(
        "R-1", partner, "new partner", "Jo", agencies=["police"], rag="RED", purpose="TRIAGE", ground=ground
    )
    marker, added = sent.opened(world, TOPICS.decisions, "broker")
    assert (marker.body["kind"], marker.body["subject_ref"], marker.body["marker_lifted"]) == (
        "CONFIDENTIAL_ADDRESS",
        "S4",
        False,
    )
    assert added.body["kind"] == "SUBJECT_ADDED"
    assert (added.body["subject_ref"], added.body["subject_role"]) == ("S4", "HOUSEHOLD_MEMBER")
    assert {s.category for s in added.sections} == {"identity", "address", "case_notes"}
    (police,) = sent.opened(world, TOPICS.enquiries, "police.devon")
    assert police.body["subject_refs"] == ["S4"]
    assert (police.body["ground"], police.body["family_informed"]) == ("WOULD_PREJUDICE_PROTECTION", False)
    assert police.body["not_informed_reason"] == "INCREASED_RISK_TO_CHILD"
    assert not police.section("address", "S4"), "a confidential address never goes out for matching"
    assert [e["agency"] for e in enquiries] == ["police"]
    # Due its timescale (RED: 4 hours, in clock hours here) from when the MASH recorded the person.
    assert (police.body["deadline"] - added.body["decided_at"]).total_seconds() == 4 * 3600


async def test_consent_is_one_persons_record_with_its_scope_and_ground(world: World) -> None:
    """Consent belongs to a person, not a referral (2024 advice): each parent and a Gillick-competent
    young person has a say; scope, categories and services are recorded, and a share without consent its
    DPA 2018 Sch 1 para 18(2) ground. Free text is sealed; only codes travel in the clear."""
    sent = Sent()
    await intake(world, sent).consent(
        "R-1",
        "CONSENT_REFUSED",
        "DATA_SHARING",
        family_informed=False,
        not_informed_reason="INCREASED_RISK_TO_ADULT",
        decided_by="Jo",
        reason="father refused by phone",
        subject_ref="S2",
        party="PARENT_WITH_PR",
        categories=["health_summary"],
        services=["partner-hub"],
        ground="CANNOT_REASONABLY_BE_OBTAINED",
        not_informed_note="he has threatened the mother",
    )
    (record,) = sent.opened(world, TOPICS.consent, "broker")
    body = record.body
    assert (body["subject_ref"], body["party"], body["scope"]) == ("S2", "PARENT_WITH_PR", "DATA_SHARING")
    assert (body["categories"], body["services"]) == (["health_summary"], ["partner-hub"])
    assert (body["ground"], body["not_informed_reason"]) == (
        "CANNOT_REASONABLY_BE_OBTAINED",
        "INCREASED_RISK_TO_ADULT",
    )
    assert body["reason"] is None
    assert body["decided_by"] is None
    notes = record.section("case_notes")
    assert notes is not None
    assert notes.payload is not None
    assert {n["text"] for n in notes.payload["notes"]} == {
        "father refused by phone",
        "he has threatened the mother",
    }
    assert datetime.now(UTC) >= body["recorded_at"]
