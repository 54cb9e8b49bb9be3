"""The broker's handler on a real store, without Kafka: the state each kind of message sets (stages, late
information, markers, subjects, consent per person, retired schemas) and what every desk then sees.

Each test states the rule it checks and its source. The same rules run through the real Kafka in
tests/integration/broker/test_stages.py.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from devkit.testkit.broker import POLICY, sections
from jigsaw.bus.pgstore import PgStore
from jigsaw.errors import PayloadInvalid, UnauthorizedSender
from jigsaw.wire.codec import SchemaRegistry, default_schemas_dir
from jigsaw.wire.envelope import Envelopes, SectionInput
from services.broker import state
from tests.unit.broker.harness import Local

CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"
FAMILY = (
    {"subject_ref": "S1", "role": "CHILD"},
    {"subject_ref": "MUM", "role": "PARENT"},
    {"subject_ref": "DAD", "role": "PARENT"},
)


@pytest.fixture(params=["sqlite", "postgresql"])
def b(request: pytest.FixtureRequest, registry: SchemaRegistry, tmp_path: Path) -> Iterator[Local]:
    """The broker's handler on each store: every rule's SQL must mean the same on both."""
    store: PgStore | None = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_url")
        store = PgStore(url, f"b_{uuid.uuid4().hex[:12]}", state.SCHEMA)
    local = Local(registry, tmp_path, store=store)
    yield local
    local.close()
    if store is not None:
        store.purge()


def registry_without(tmp: Path, *files: str) -> SchemaRegistry:
    """The schemas as an older writer had them: without ``files`` (e.g. payload/DomesticAbuse.v2.avsc)."""
    root = tmp / "old-schemas"
    shutil.copytree(default_schemas_dir(), root)
    for f in files:
        (root / f).unlink()
    return SchemaRegistry.load(root)


def old_writer(b: Local, tmp: Path, sender: str, *files: str) -> Envelopes:
    return Envelopes(registry_without(tmp, *files), b.world.directory, b.world.keys[sender])


def test_a_late_return_after_no_further_action_reaches_the_screening_desk_flagged_late(b: Local) -> None:
    """Working Together 2023 ch. 2 and DOMAIN "Stages": a return that lands after a decision must reach the
    screening desk, marked late, so the decision can be revisited; assigned or not. Before this issue no
    further action left no purpose, and the police return reached nobody. A return held from before the
    decision is not late information, and the decision does not open it to the desk."""
    b.referral("R-NFA", "RED")
    b.assign("R-NFA", POLICE)
    early = b.intel("police.devon", "R-NFA", sections("police_incidents"))
    b.decision("R-NFA", "OUTCOME", outcome="NO_FURTHER_ACTION")
    late = b.intel("police.devon", "R-NFA", sections("police_incidents", "identity", subject="S2"))

    csc = {o.msg_id: o for o in b.releases(CSC, "R-NFA")}
    assert csc[late].release is not None
    assert csc[late].release.late
    assert csc[late].release.purpose == "LATE_INFORMATION"
    assert [(d["rule_id"], d["purpose"]) for d in csc[late].release.decisions] == [
        ("R-CSC-LATE", "LATE_INFORMATION"),
        ("R-CSC-KNOWN-CONTACT", "LATE_INFORMATION"),
    ]
    assert csc[early].release is not None
    assert not csc[early].release.late, "what came before the decision is not late"
    held = csc[early].section("police_incidents", "S1")
    assert held is not None
    assert held.withheld is not None, "nor is it re-opened for the screening desk by the decision"
    police = b.view(POLICE, "R-NFA")
    assert police[("police_incidents", "S2")] == ("WITHHOLD", "DEFAULT-DENY"), "late information is CSC's"
    assert b.releases(HEALTH, "R-NFA") == [], "a desk never assigned learns nothing, late or not"
    assert police[("police_incidents", "S1")] == ("RELEASE", ""), "released at triage, never taken back"
    rows = [a for a in b.audit("R-NFA") if a["source_msg_id"] == late]
    assert rows
    assert all(a["late"] for a in rows)
    assert not any(a["late"] for a in b.audit("R-NFA") if a["source_msg_id"] == early)


@pytest.mark.parametrize("rag", ["GREEN", "UNKNOWN"])
def test_a_strategy_discussion_on_a_green_or_unrated_case_gives_police_what_s47_needs(
    b: Local, rag: str
) -> None:
    """Children Act 1989 s47; Working Together 2023 ch. 3: a strategy discussion happens at once, whatever
    the RAG, and police need health findings (injuries, medical history) to decide on a joint
    investigation. Nothing more: not mental health."""
    rid = f"R-SD-{rag}"
    b.referral(rid, rag)
    b.assign(rid, POLICE, HEALTH)
    b.intel("police.devon", rid, sections("police_incidents"))
    b.intel("health.devon", rid, sections("health_summary", "mental_health"))
    before = b.view(POLICE, rid)
    assert before[("health_summary", "S1")][0] == "WITHHOLD"
    assert before[("police_incidents", "S1")][0] == "WITHHOLD"
    b.decision(rid, "STRATEGY_DISCUSSION")
    after = b.view(POLICE, rid)
    assert after[("police_incidents", "S1")] == ("RELEASE", "")
    assert after[("health_summary", "S1")] == ("RELEASE", "")
    assert after[("mental_health", "S1")] == ("WITHHOLD", "DEFAULT-DENY")
    assert b.view(HEALTH, rid)[("mental_health", "S1")] == ("RELEASE", "")
    released = [a for a in b.audit(rid) if a["subscriber"] == POLICE and a["category"] == "health_summary"]
    assert released[-1]["rule_id"] == "R-POLICE-S47-HEALTH"
    assert released[-1]["purpose"] == "STRATEGY_DISCUSSION"


def test_one_parents_refusal_is_respected_for_the_child_and_recorded_against_that_parent(b: Local) -> None:
    """DOMAIN "Consent, per person": each adult with parental responsibility has a say. A refusal by one
    parent keeps the child's data from early help, recorded against that parent; the other parent's own
    agreement opens what is about her."""
    b.referral("R-PARENTS", "GREEN", subjects=FAMILY)
    b.assign("R-PARENTS", PARTNER)
    b.decision("R-PARENTS", "OUTCOME", outcome="EARLY_HELP")
    b.consent("R-PARENTS", "CONSENT_GIVEN", subject_ref="MUM", party="PARENT_WITH_PR", family_informed=True)
    dad = b.consent("R-PARENTS", "CONSENT_REFUSED", subject_ref="DAD", party="PARENT_WITH_PR")
    items = [SectionInput("housing", {"subject_ref": s}) for s in ("S1", "MUM", "DAD")]
    b.intel("housing.devon", "R-PARENTS", items)
    view = b.view(PARTNER, "R-PARENTS")
    assert view[("housing", "S1")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    assert view[("housing", "MUM")] == ("RELEASE", "")
    assert view[("housing", "DAD")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    (child,) = [a for a in b.audit("R-PARENTS") if a["subscriber"] == PARTNER and a["subject_ref"] == "S1"]
    assert "DAD" in child["reason"]
    assert child["consent_state"].startswith("REFUSED by DAD")
    (record,) = [a for a in b.audit("R-PARENTS") if a["source_msg_id"] == dad]
    assert (record["event"], record["subject_ref"], record["rule_id"]) == (
        "CONSENT",
        "DAD",
        "CONSENT_REFUSED",
    )


def test_an_override_never_opens_early_help_but_its_ground_travels_with_every_release(b: Local) -> None:
    """Early help is voluntary: when risk rises the outcome changes (s17 or s47); the early-help service does
    not receive data against the family's refusal. Each share without consent records its DPA 2018 Sch 1
    para 18(2) ground and whether the family was told; every release and audit record carries it."""
    b.referral("R-OVR", "GREEN")
    b.assign("R-OVR", CSC, PARTNER)
    b.decision("R-OVR", "OUTCOME", outcome="EARLY_HELP")
    b.consent("R-OVR", "CONSENT_REFUSED")
    b.consent(
        "R-OVR",
        "SAFEGUARDING_OVERRIDE",
        decided_by="tm-1",
        reason="risk",
        ground="WOULD_PREJUDICE_PROTECTION",
        family_informed=False,
        not_informed_reason="would alert the alleged perpetrator",
    )
    returned = b.intel("housing.devon", "R-OVR", sections("housing"))
    assert b.view(PARTNER, "R-OVR")[("housing", "S1")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    (late,) = [o for o in b.releases(CSC, "R-OVR") if o.msg_id == returned]
    assert late.release is not None
    assert (late.release.agreement_ref, late.release.ground, late.release.family_informed) == (
        "DEVON-MASH-ISA-2026",
        "WOULD_PREJUDICE_PROTECTION",
        False,
    )
    rows = [a for a in b.audit("R-OVR") if a["source_msg_id"] == returned]
    assert {(a["agreement_ref"], a["ground"], a["family_informed"]) for a in rows} == {
        ("DEVON-MASH-ISA-2026", "WOULD_PREJUDICE_PROTECTION", False)
    }
    assert {a["not_informed_reason"] for a in rows} == {"would alert the alleged perpetrator"}


def test_a_v1_consent_record_is_the_whole_familys(b: Local, tmp_path: Path) -> None:
    """Consent v1 had no subject: read by the latest reader, its subject is null, the whole family."""
    hub = old_writer(b, tmp_path, "hub.devon", "body/Consent.v2.avsc")
    b.referral("R-V1", "GREEN", subjects=FAMILY)
    b.assign("R-V1", PARTNER)
    b.decision("R-V1", "OUTCOME", outcome="STEP_DOWN_EARLY_HELP")
    body = {
        "consent_id": "c-1",
        "kind": "CONSENT_GIVEN",
        "scope": "EARLY_HELP_SERVICE",
        "family_informed": True,
        "not_informed_reason": None,
        "decided_by": None,
        "reason": None,
        "recorded_at": 0,
    }
    b.send("hub.devon", "CONSENT", "R-V1", body, sealer=hub)
    b.intel("housing.devon", "R-V1", [SectionInput("housing", {"subject_ref": s}) for s in ("S1", "MUM")])
    view = b.view(PARTNER, "R-V1")
    assert view[("housing", "S1")] == ("RELEASE", "")
    assert view[("housing", "MUM")] == ("RELEASE", "")


def test_a_person_marker_from_a_return_withholds_their_locating_details_from_every_desk(b: Local) -> None:
    """MARAC practice and DOMAIN "Victims who have fled": under a person's confidential-address marker their
    addresses, postcodes, GP and school are withheld from every desk a rule does not allow (CSC sees them,
    under the marker). What was released before the marker is not taken back."""
    b.referral("R-FLED", "RED", subjects=FAMILY)
    b.assign("R-FLED", CSC, POLICE, HEALTH)
    before = b.intel("housing.devon", "R-FLED", [SectionInput("housing", {"subject_ref": "MUM"})])
    marker = [{"subject_ref": "MUM", "scope": "PERSON"}]
    b.intel("health.devon", "R-FLED", sections("address", "health_summary", subject="MUM"), marker)
    after = b.intel("police.devon", "R-FLED", sections("address", "police_incidents", subject="MUM"))
    police, health, csc = (b.view(s, "R-FLED") for s in (POLICE, HEALTH, CSC))
    assert health[("address", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert health[("health_summary", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert police[("address", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert police[("police_incidents", "MUM")] == ("RELEASE", ""), "not a locating category"
    assert csc[("address", "MUM")] == ("RELEASE", "")
    assert police[("housing", "MUM")] == ("RELEASE", ""), "released before the marker: never taken back"
    rows = [a for a in b.audit("R-FLED") if a["source_msg_id"] == after and a["category"] == "address"]
    assert all("CONFIDENTIAL_ADDRESS" in a["protected"] for a in rows)
    assert not [
        a
        for a in b.audit("R-FLED")
        if a["source_msg_id"] == before and "CONFIDENTIAL_ADDRESS" in a["protected"]
    ]


def test_an_address_marker_covers_only_that_returns_addresses(b: Local) -> None:
    """A marker can sit on an address rather than a person: only that return's locating sections about the
    subject are withheld."""
    b.referral("R-ADDR", "RED")
    b.assign("R-ADDR", POLICE)
    marked = b.intel(
        "housing.devon", "R-ADDR", sections("address"), [{"subject_ref": "S1", "scope": "ADDRESS"}]
    )
    other = b.intel("police.devon", "R-ADDR", sections("address"))
    rel = {o.msg_id: o for o in b.releases(POLICE, "R-ADDR")}
    assert rel[marked].section("address", "S1").withheld.rule_id == "SYS-CONFIDENTIAL-ADDRESS"  # type: ignore[union-attr]
    assert rel[other].section("address", "S1").withheld is None  # type: ignore[union-attr]


def test_markers_from_the_referral_and_from_a_decision_and_a_lift(b: Local) -> None:
    """The front door can mark a person at intake or by a CONFIDENTIAL_ADDRESS decision, and lift it; a
    lift applies to what arrives after it, and nothing released is taken back either way."""
    subjects = ({"subject_ref": "S1", "role": "CHILD", "confidential_address": True}, FAMILY[1])
    b.referral("R-MARK", "RED", subjects=subjects)
    b.assign("R-MARK", POLICE)
    b.intel("police.devon", "R-MARK", sections("address"))
    b.decision("R-MARK", "CONFIDENTIAL_ADDRESS", subject_ref="MUM")
    b.intel("police.devon", "R-MARK", sections("address", subject="MUM"))
    view = b.view(POLICE, "R-MARK")
    assert view[("address", "S1")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert view[("address", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    b.decision("R-MARK", "CONFIDENTIAL_ADDRESS", subject_ref="S1", marker_lifted=True)
    assert b.view(POLICE, "R-MARK")[("address", "S1")] == ("RELEASE", "")
    with pytest.raises(PayloadInvalid):
        b.decision("R-MARK", "CONFIDENTIAL_ADDRESS")  # about nobody


def test_a_retired_domestic_abuse_v1_section_is_withheld_from_everyone(b: Local, tmp_path: Path) -> None:
    """DOMAIN "Victims who have fled": safe contact details are never released, and DomesticAbuse v1 embeds
    them in each case; Identity v1 carries every identifier and address. The broker reads the version from
    the section's payload_schema fingerprint, never from the payload, which it cannot decrypt."""
    police = old_writer(
        b, tmp_path, "police.devon", "payload/DomesticAbuse.v2.avsc", "payload/Identity.v2.avsc"
    )
    b.referral("R-DA", "UNKNOWN")
    b.assign("R-DA", CSC, POLICE)
    b.decision("R-DA", "OUTCOME", outcome="STRATEGY_DISCUSSION_S47")
    old = b.intel("police.devon", "R-DA", sections("domestic_abuse", "identity"), sealer=police)
    new = b.intel("police.devon", "R-DA", sections("domestic_abuse", "identity", subject="S2"))
    for sub in (CSC, POLICE):
        rel = {o.msg_id: o for o in b.releases(sub, "R-DA")}
        for cat in ("domestic_abuse", "identity"):
            assert rel[old].section(cat, "S1").withheld.rule_id == "SYS-RETIRED-SCHEMA"  # type: ignore[union-attr]
            assert rel[new].section(cat, "S2").payload is not None  # type: ignore[union-attr]


def test_subjects_added_mid_way_have_their_own_say(b: Local) -> None:
    """A sibling, partner or household member joins a case after intake (SUBJECT_ADDED): a parent added
    later decides about the child with the others."""
    b.referral("R-ADD", "GREEN", subjects=FAMILY[:2])
    b.assign("R-ADD", PARTNER)
    b.decision("R-ADD", "OUTCOME", outcome="EARLY_HELP")
    b.consent("R-ADD", "CONSENT_GIVEN", subject_ref="MUM")
    b.intel("housing.devon", "R-ADD", sections("housing"))
    assert b.view(PARTNER, "R-ADD")[("housing", "S1")] == ("RELEASE", "")
    b.decision("R-ADD", "SUBJECT_ADDED", subject_ref="STEPDAD", subject_role="PARENT")
    b.consent("R-ADD", "CONSENT_REFUSED", subject_ref="STEPDAD")
    b.intel("housing.devon", "R-ADD", sections("housing", subject="S1-2"))
    b.decision("R-ADD", "SUBJECT_ADDED", subject_ref="S1-2", subject_role="SIBLING")
    view = b.view(PARTNER, "R-ADD")
    assert view[("housing", "S1")] == ("RELEASE", ""), "never taken back"
    assert view[("housing", "S1-2")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    with pytest.raises(PayloadInvalid):
        b.decision("R-ADD", "SUBJECT_ADDED")


def test_referrer_type_decides_redaction_and_what_the_audit_protects(b: Local) -> None:
    """A professional cannot refer anonymously; a member of the public's identity is protected, and a
    subject access response must not reveal it (DPA 2018 Sch 2 para 16: other individuals)."""
    b.referral("R-PRO", "RED", sections("referrer_identity", subject=""), referrer_type="PROFESSIONAL")
    b.referral("R-PUB", "RED", sections("referrer_identity", subject=""), referrer_type="PUBLIC")
    for rid in ("R-PRO", "R-PUB"):
        b.assign(rid, CSC)
    assert b.view(CSC, "R-PRO")[("referrer_identity", "")] == ("RELEASE", "")
    assert b.view(CSC, "R-PUB")[("referrer_identity", "")] == ("WITHHOLD", "SYS-REDACTED")
    pub = [a for a in b.audit("R-PUB") if a["category"] == "referrer_identity"]
    assert all({"PUBLIC_REFERRER", "THIRD_PARTY"} <= set(a["protected"]) for a in pub)
    pro = [a for a in b.audit("R-PRO") if a["category"] == "referrer_identity"]
    assert all("PUBLIC_REFERRER" not in a["protected"] for a in pro)


def test_the_new_outcomes_and_decisions_apply(b: Local) -> None:
    """The outcomes as a MASH records them, and referrer feedback (the referrer is told the outcome)."""
    for i, outcome in enumerate(
        ["INFORMATION_AND_ADVICE", "POLICE_OR_SINGLE_AGENCY", "TRANSFER_OUT", "STEP_DOWN_EARLY_HELP"]
    ):
        rid = f"R-OUT-{i}"
        b.referral(rid, "GREEN")
        b.assign(rid, CSC)
        b.decision(rid, "OUTCOME", outcome=outcome)
        feedback = b.decision(rid, "REFERRER_FEEDBACK", referrer_feedback={"given": True, "method": "PHONE"})
        assert feedback in {o.msg_id for o in b.releases(CSC, rid)}
    with pytest.raises(PayloadInvalid):
        b.decision("R-OUT-0", "OUTCOME", outcome="UNKNOWN")


def test_an_enquirys_audit_records_carry_its_agreement_ground_and_basis(b: Local) -> None:
    """Each enquiry carries the agreement's reference and the case's own ground (Enquiry v2), and the audit
    records them, not a generic name (SocialCareData exchange: purpose, legal reason, agreement link)."""
    body = {
        "enquiry_id": "E-1",
        "addressed_agencies": ["police.devon"],
        "subject_refs": ["S1"],
        "categories": ["police_incidents"],
        "purpose": "LATE_INFORMATION",
        "lawful_basis": "UK GDPR Art 6(1)(e)",
        "legal_reason": "Children Act 1989 s47",
        "isa_ref": "DEVON-MASH-ISA-2026",
        "rag": "RED",
        "deadline": 0,
        "requested_by": "researcher",
        "ground": "CANNOT_REASONABLY_BE_OBTAINED",
        "family_informed": False,
        "not_informed_reason": "not yet contacted",
    }
    b.send("hub.devon", "ENQUIRY", "R-ENQ", body, sections("identity"), recipients=["police.devon"])
    (row,) = [a for a in b.audit("R-ENQ") if a["event"] == "ENQUIRY"]
    assert (row["agreement_ref"], row["ground"], row["lawful_basis"], row["purpose"]) == (
        "DEVON-MASH-ISA-2026",
        "CANNOT_REASONABLY_BE_OBTAINED",
        "UK GDPR Art 6(1)(e)",
        "LATE_INFORMATION",
    )
    assert (row["family_informed"], row["not_informed_reason"]) == (False, "not yet contacted")


def test_a_desks_hub_sending_consent_is_refused_even_where_the_policy_lets_it_send(
    b: Local, registry: SchemaRegistry, tmp_path: Path
) -> None:
    """Only the MASH front door records consent: a desk's hub (or an agency) that sends one is refused as an
    unauthorized sender before any state is touched."""
    b.referral("R-DESK", "GREEN")
    with pytest.raises(UnauthorizedSender):
        b.consent("R-DESK", "CONSENT_GIVEN", sender="hub.partner-hub")
    with pytest.raises(UnauthorizedSender):
        b.consent("R-DESK", "CONSENT_GIVEN", sender="housing.devon")
    doc = yaml.safe_load(POLICY.read_text())
    doc["participants"]["hub.partner-hub"]["sends"] = ["DECISION", "CONSENT"]
    path = tmp_path / "wider.yaml"
    path.write_text(yaml.safe_dump(doc))
    (tmp_path / "wider").mkdir()
    wider = Local(registry, tmp_path / "wider", path)
    try:
        with pytest.raises(UnauthorizedSender):
            wider.consent("R-DESK", "CONSENT_GIVEN", sender="hub.partner-hub")
    finally:
        wider.close()


def test_a_data_sharing_permission_narrows_what_early_help_receives(b: Local) -> None:
    """DOMAIN "Consent, per person": agreement to early help and permission to share named categories with
    named services are different scopes; a permission naming categories leaves the others out
    (SYS-CONSENT-SCOPE), however willing the family is to take up the service."""
    b.referral("R-SCOPE", "GREEN", subjects=FAMILY[:2])
    b.assign("R-SCOPE", PARTNER)
    b.decision("R-SCOPE", "OUTCOME", outcome="EARLY_HELP")
    b.consent("R-SCOPE", "CONSENT_GIVEN", subject_ref="MUM", party="PARENT_WITH_PR")
    b.consent(
        "R-SCOPE",
        "CONSENT_GIVEN",
        subject_ref="MUM",
        party="PARENT_WITH_PR",
        scope="DATA_SHARING",
        categories=["education_attendance"],
        services=[PARTNER],
    )
    b.intel("housing.devon", "R-SCOPE", sections("housing"))
    b.intel("education.devon", "R-SCOPE", sections("education_attendance"))
    view = b.view(PARTNER, "R-SCOPE")
    assert view[("housing", "S1")] == ("WITHHOLD", "SYS-CONSENT-SCOPE")
    assert view[("education_attendance", "S1")] == ("RELEASE", "")


def test_a_decision_creates_no_new_need_to_know_what_came_before_it(b: Local) -> None:
    """Caldicott principle 3 (the minimum necessary) and DOMAIN "Stages": late information is what arrives
    after a decision, for the screening desk to revisit it. A return held from before the decision was
    decided under the purposes of its time: deciding the case must not open it to the decision makers
    (at Green, police intelligence stays withheld from children's social care after no further action)."""
    b.referral("R-GREEN-NFA", "GREEN")
    b.assign("R-GREEN-NFA", CSC)
    early = b.intel("police.devon", "R-GREEN-NFA", sections("police_intelligence"))
    assert b.view(CSC, "R-GREEN-NFA")[("police_intelligence", "S1")] == ("WITHHOLD", "DEFAULT-DENY")
    b.decision("R-GREEN-NFA", "OUTCOME", outcome="NO_FURTHER_ACTION")
    after = b.view(CSC, "R-GREEN-NFA")
    assert after[("police_intelligence", "S1")][0] == "WITHHOLD", "the decision opened an earlier return"
    late = b.intel("police.devon", "R-GREEN-NFA", sections("police_intelligence", subject="S2"))
    (opened,) = [o for o in b.releases(CSC, "R-GREEN-NFA") if o.msg_id == late]
    section = opened.section("police_intelligence", "S2")
    assert section is not None
    assert section.withheld is None, "late information reaches the desk"
    assert all(
        o.msg_id != early or not o.release or not o.release.late for o in b.releases(CSC, "R-GREEN-NFA")
    )


def test_the_mashs_own_records_stay_readable_to_the_decision_makers_after_a_decision(b: Local) -> None:
    """DOMAIN "Stages": only an agency's return held from before the decision loses late information; the
    MASH's own records are not returns, and the reasons for its decisions (case notes) stay readable to the
    decision makers under LATE_INFORMATION (R-CSC-CASE-NOTES), so that a decision can be revisited."""
    b.referral("R-NOTES", "GREEN")
    b.assign("R-NOTES", CSC, POLICE)
    nfa = b.decision("R-NOTES", "OUTCOME", outcome="NO_FURTHER_ACTION")
    (opened,) = [o for o in b.releases(CSC, "R-NOTES") if o.msg_id == nfa]
    notes = opened.section("case_notes", "")
    assert notes is not None
    assert notes.withheld is None
    assert opened.release is not None
    assert [(d["rule_id"], d["purpose"]) for d in opened.release.decisions] == [
        ("R-CSC-CASE-NOTES", "LATE_INFORMATION")
    ]
    assert b.view(POLICE, "R-NOTES")[("case_notes", "")] == ("WITHHOLD", "DEFAULT-DENY"), "CSC's own"


def test_anything_probation_sends_is_scoped_like_its_screening_answer(b: Local) -> None:
    """DOMAIN "Who a screening answer may tell what": being known to probation is probation's fact, and
    MAPPA data is controlled by its originator. A desk refused it must not learn it from the identity or
    the address that probation returns either (the sender names the agency): it gets no release at all of
    probation's messages, not even a withheld notice, and its refusals are audited."""
    b.referral("R-PROB", "RED")
    b.assign("R-PROB", POLICE, HEALTH)
    from_probation = b.intel(
        "probation.devon", "R-PROB", sections("identity", "address", "contact_probation")
    )
    from_health = b.intel("health.devon", "R-PROB", sections("identity"))
    health = {o.msg_id: o for o in b.releases(HEALTH, "R-PROB")}
    assert from_probation not in health, "even a withheld notice names probation as the sender"
    assert health[from_health].section("identity", "S1") is not None, "health's own answer is released"
    refused = {
        a["category"]: a["rule_id"]
        for a in b.audit("R-PROB")
        if a["subscriber"] == HEALTH and a["source_msg_id"] == from_probation
    }
    assert refused["identity"] == "SYS-SCOPED-CONTACT", "the refusal is still recorded"
    assert refused["contact_probation"] == "SYS-SCOPED-CONTACT"
    police = {o.msg_id: o for o in b.releases(POLICE, "R-PROB")}
    assert police[from_probation].section("contact_probation", "S1") is not None, "probation allows police"
    assert police[from_probation].section("identity", "S1") is not None


def test_a_desk_that_may_not_know_youth_justice_gets_nothing_youth_justice_sends(b: Local) -> None:
    """The same rule for youth justice (policy participants youthjustice.devon reveals youth_justice): the
    health desk has no rule for youth justice data, so it is told nothing youth justice returned, not even
    that it returned; the police desk may know it at Red and gets the answer and the identity."""
    b.referral("R-YJ", "RED")
    b.assign("R-YJ", POLICE, HEALTH)
    from_yj = b.intel("youthjustice.devon", "R-YJ", sections("identity", "address", "contact"))
    assert from_yj not in {o.msg_id for o in b.releases(HEALTH, "R-YJ")}
    refused = {
        a["category"]: a["rule_id"]
        for a in b.audit("R-YJ")
        if a["subscriber"] == HEALTH and a["source_msg_id"] == from_yj
    }
    assert refused == dict.fromkeys(("identity", "address", "contact"), "SYS-SCOPED-CONTACT")
    police = {o.msg_id: o for o in b.releases(POLICE, "R-YJ")}
    assert police[from_yj].section("contact", "S1").withheld is None  # type: ignore[union-attr]
    assert police[from_yj].section("identity", "S1").withheld is None  # type: ignore[union-attr]
    assert police[from_yj].section("address", "S1").withheld is None  # type: ignore[union-attr]


def test_a_fled_childs_school_reaches_the_decision_makers_only(b: Local) -> None:
    """DOMAIN "Victims who have fled": a school's name locates a child who fled (policy
    contact_education_attendance, locating). Under the child's marker the decision makers still learn whom
    to contact (R-CSC-KNOWN-CONTACT sets confidential_address), audited as protected; the health desk,
    which may know attendance, is refused it for the marker; the police desk may not know attendance at all.
    Even the plain route is locating (a local team's name and number can place a person), so under the
    marker only the decision makers receive it; the desks still learn, from CSC, whom to ask."""
    subjects = ({"subject_ref": "S1", "role": "CHILD", "confidential_address": True},)
    b.referral("R-SCHOOL", "RED", subjects=subjects)
    b.assign("R-SCHOOL", CSC, POLICE, HEALTH)
    school = b.intel("education.devon", "R-SCHOOL", sections("contact_education_attendance", "contact"))
    csc, police, health = (b.view(s, "R-SCHOOL") for s in (CSC, POLICE, HEALTH))
    assert csc[("contact_education_attendance", "S1")] == ("RELEASE", "")
    assert health[("contact_education_attendance", "S1")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert police[("contact_education_attendance", "S1")] == ("WITHHOLD", "SYS-SCOPED-CONTACT")
    assert csc[("contact", "S1")] == ("RELEASE", "")
    assert police[("contact", "S1")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert health[("contact", "S1")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    (released,) = [
        a
        for a in b.audit("R-SCHOOL")
        if a["source_msg_id"] == school
        and a["subscriber"] == CSC
        and a["category"] == "contact_education_attendance"
    ]
    assert (released["rule_id"], released["outcome"]) == ("R-CSC-KNOWN-CONTACT", "RELEASE")
    assert "CONFIDENTIAL_ADDRESS" in released["protected"]


def test_a_scoped_answer_in_its_own_message_is_not_even_a_notice_to_a_desk_that_may_not_know(
    b: Local,
) -> None:
    """DOMAIN "Who a screening answer may tell what": a withheld notice still names its category, so a
    desk refused the fact behind a scoped answer (a mental-health service) must get no release of the
    message that carries it; connectors send each scoped answer in a message of its own. The refusal is
    still recorded, and a desk that may know the fact gets it."""
    b.referral("R-SCOPED", "RED")
    b.assign("R-SCOPED", POLICE, HEALTH)
    scoped = b.intel("health.devon", "R-SCOPED", sections("contact_mental_health"))
    plain = b.intel("health.devon", "R-SCOPED", sections("identity", "contact"))
    police = {o.msg_id: o for o in b.releases(POLICE, "R-SCOPED")}
    assert scoped not in police, "the police desk learnt of a mental-health contact from a notice"
    assert plain in police
    refused = [a for a in b.audit("R-SCOPED") if a["source_msg_id"] == scoped and a["subscriber"] == POLICE]
    assert [a["rule_id"] for a in refused] == ["SYS-SCOPED-CONTACT"]
    health = {o.msg_id: o for o in b.releases(HEALTH, "R-SCOPED")}
    answer = health[scoped].section("contact_mental_health", "S1")
    assert answer is not None
    assert answer.withheld is None


def test_an_enquiry_to_an_agency_whose_involvement_is_a_fact_is_not_forwarded_to_a_desk_refused_it(
    b: Local,
) -> None:
    """MAPPA data is controlled by its originator: the health desk may never know a subject is known to
    probation, so it is not shown an enquiry to probation that it could never see answered."""
    b.referral("R-ASK", "RED")
    b.assign("R-ASK", POLICE, HEALTH)
    body = {
        "enquiry_id": "E-ASK",
        "addressed_agencies": ["probation.devon"],
        "subject_refs": ["S1"],
        "categories": ["identity", "probation"],
        "purpose": "TRIAGE",
        "lawful_basis": "UK GDPR Art 6(1)(e)",
        "legal_reason": "Children Act 1989 s47",
        "isa_ref": "DEVON-MASH-ISA-2026",
        "rag": "RED",
        "deadline": 0,
        "requested_by": "mash-researcher",
    }
    items = [SectionInput("identity", {"subject_ref": "S1"})]
    asked = b.send("hub.devon", "ENQUIRY", "R-ASK", body, items, recipients=["probation.devon"])
    assert asked not in {o.msg_id for o in b.releases(HEALTH, "R-ASK")}
    assert asked in {o.msg_id for o in b.releases(POLICE, "R-ASK")}


def test_a_section_sealed_with_another_categorys_schema_is_refused_before_any_state(
    b: Local, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every rejection is typed: the broker never opens a payload, so a section whose clear payload schema
    is not its category's would pass as released and fail at the hub; it is refused at the broker."""
    from jigsaw.errors import PayloadInvalid
    from jigsaw.wire import envelope
    from jigsaw.wire.categories import CATEGORIES, Category
    from services.broker.state import held

    b.referral("R-SCHEMA", "RED")
    # A connector that seals police incidents with the Identity schema (and no wider identifiers).
    wrong = dict(CATEGORIES)
    wrong["police_incidents"] = Category(
        "police_incidents", "jigsaw.payload.Identity", CATEGORIES["identity"].classification
    )
    monkeypatch.setattr(envelope, "CATEGORIES", wrong)
    with pytest.raises(PayloadInvalid, match=r"sealed as jigsaw\.payload\.Identity"):
        b.intel("police.devon", "R-SCHEMA", sections("police_incidents"))
    monkeypatch.undo()
    with b.store.transaction() as tx:
        assert len(held(tx, "R-SCHEMA")) == 1, "only the referral is held: the return left no state"


def test_nothing_is_released_before_the_referral_so_its_markers_always_apply(b: Local) -> None:
    """DOMAIN "Victims who have fled": topics are not ordered against each other, so an assignment and a
    return can arrive before their referral. Deciding them then would miss the referral's confidential-
    address marker, and a release is never taken back: nothing reaches anyone until the referral is in."""
    b.assign("R-EARLY", CSC, HEALTH)
    school = b.intel("education.devon", "R-EARLY", sections("contact_education_attendance"))
    assert b.releases(HEALTH, "R-EARLY") == []
    subjects = ({"subject_ref": "S1", "role": "CHILD", "confidential_address": True},)
    b.referral("R-EARLY", "RED", subjects=subjects)
    health = {o.msg_id: o for o in b.releases(HEALTH, "R-EARLY")}
    cell = health[school].section("contact_education_attendance", "S1")
    assert cell is not None
    assert cell.withheld is not None
    assert cell.withheld.rule_id == "SYS-CONFIDENTIAL-ADDRESS", "the fled child's school reached a desk"
    csc = {o.msg_id: o for o in b.releases(CSC, "R-EARLY")}
    released = csc[school].section("contact_education_attendance", "S1")
    assert released is not None
    assert released.withheld is None


def test_consent_records_reach_the_front_door_and_no_desk(b: Local) -> None:
    """The 2024 advice: record whether the family agreed, and why not. The record is the front door's
    (its view lists the case's consent records); a desk has no need to know a family's word on consent."""
    b.referral("R-CONSENT", "GREEN")
    b.assign("R-CONSENT", CSC, POLICE, PARTNER)
    said = b.consent("R-CONSENT", "CONSENT_REFUSED", scope="EARLY_HELP_SERVICE")
    assert said in {o.msg_id for o in b.releases(CSC, "R-CONSENT")}
    for desk in (POLICE, PARTNER):
        assert said not in {o.msg_id for o in b.releases(desk, "R-CONSENT")}, desk
