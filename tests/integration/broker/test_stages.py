"""The case's stages, late information, consent per person, confidential-address markers and retired
payload schemas, through the real broker and the real Kafka, as each desk sees its releases.

Topics are not ordered against each other, so each step that must come after another waits for the
broker to settle first. Each test states the rule and its source.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from devkit.testkit.broker import Rig, intel_body, sections
from jigsaw.wire.codec import SchemaRegistry, default_schemas_dir
from jigsaw.wire.envelope import Envelopes, SectionInput

CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"
FAMILY = (
    {"subject_ref": "S1", "role": "CHILD"},
    {"subject_ref": "MUM", "role": "PARENT"},
    {"subject_ref": "DAD", "role": "PARENT"},
)


async def test_a_late_return_after_no_further_action_reaches_the_screening_desk_flagged_late(
    rig: Rig,
) -> None:
    """Working Together 2023 ch. 2; DOMAIN "Stages, outcomes and late information": a police return that
    lands after a decision must reach the screening desk, marked as late, so the decision can be
    revisited, whether or not the desk is still assigned; it is late information for no one else."""
    await rig.referral("R-LATE", "RED")
    await rig.assign("R-LATE", POLICE)
    await rig.settle()
    await rig.decision("R-LATE", "OUTCOME", outcome="NO_FURTHER_ACTION")
    await rig.settle()
    late = await rig.intel("police.devon", "R-LATE", sections("identity", "police_incidents"))
    await rig.settle()

    (release,) = [o for o in await rig.releases(CSC, "R-LATE") if o.msg_id == late]
    assert release.release is not None
    assert release.release.late
    assert release.release.purpose == "LATE_INFORMATION"
    assert release.section("police_incidents", "S1").payload is not None  # type: ignore[union-attr]
    police = await rig.cells(POLICE, "R-LATE")
    assert police[("police_incidents", "S1")] == ("WITHHOLD", "DEFAULT-DENY")
    # After the decision the police desk has no new need to know, even of the identity (Caldicott 4).
    assert police[("identity", "S1")] == ("WITHHOLD", "DEFAULT-DENY"), "late information is CSC's alone"
    rows = [a for a in await rig.audit("R-LATE") if a["source_msg_id"] == late]
    assert rows
    assert all(a["late"] and a["agreement_ref"] == "DEVON-MASH-ISA-2026" for a in rows)


@pytest.mark.parametrize("rag", ["GREEN", "UNKNOWN"])
async def test_a_strategy_discussion_on_a_green_or_unrated_case_gives_police_s47_data_and_health_findings(
    rig: Rig, rag: str
) -> None:
    """Children Act 1989 s47; Working Together 2023 ch. 3: a strategy discussion happens at once, whatever
    the RAG; police need health findings (injuries, medical history) to decide on a joint investigation.
    Not the rest of health: a mental health record stays with the health desk."""
    rid = f"R-SD-{rag}"
    await rig.referral(rid, rag)
    await rig.assign(rid, POLICE, HEALTH)
    await rig.intel("police.devon", rid, sections("police_incidents"))
    await rig.intel("health.devon", rid, sections("health_summary", "mental_health"))
    await rig.settle()
    before = await rig.cells(POLICE, rid)
    assert before[("police_incidents", "S1")][0] == "WITHHOLD"
    assert before[("health_summary", "S1")][0] == "WITHHOLD"

    await rig.decision(rid, "STRATEGY_DISCUSSION")
    await rig.settle()
    after = await rig.cells(POLICE, rid)
    assert after[("police_incidents", "S1")] == ("RELEASE", "")
    assert after[("health_summary", "S1")] == ("RELEASE", "")
    assert after[("mental_health", "S1")] == ("WITHHOLD", "DEFAULT-DENY")
    assert (await rig.cells(HEALTH, rid))[("mental_health", "S1")] == ("RELEASE", "")


async def test_a_refusal_by_one_parent_is_respected_and_recorded_against_that_parent(rig: Rig) -> None:
    """DOMAIN "Consent, per person": each adult with parental responsibility has a say, and a refusal by one
    parent is recorded against that parent. Early help is voluntary: the child's data stays with the MASH;
    the parent who agreed shares what is hers."""
    await rig.referral("R-PARENTS", "GREEN", subjects=FAMILY)
    await rig.assign("R-PARENTS", PARTNER)
    await rig.settle()
    await rig.decision("R-PARENTS", "OUTCOME", outcome="EARLY_HELP")
    await rig.consent("R-PARENTS", "CONSENT_GIVEN", subject_ref="MUM", party="PARENT_WITH_PR")
    await rig.settle()
    await rig.consent("R-PARENTS", "CONSENT_REFUSED", subject_ref="DAD", party="PARENT_WITH_PR")
    await rig.settle()
    items = [SectionInput("housing", {"subject_ref": s}) for s in ("S1", "MUM", "DAD")]
    await rig.intel("housing.devon", "R-PARENTS", items)
    await rig.settle()

    view = await rig.cells(PARTNER, "R-PARENTS")
    assert view[("housing", "S1")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    assert view[("housing", "MUM")] == ("RELEASE", "")
    assert view[("housing", "DAD")] == ("WITHHOLD", "SYS-CONSENT-REFUSED")
    (child,) = [
        a for a in await rig.audit("R-PARENTS") if a["subscriber"] == PARTNER and a["subject_ref"] == "S1"
    ]
    assert "by DAD" in child["reason"]
    consents = [a for a in await rig.audit("R-PARENTS") if a["event"] == "CONSENT"]
    assert [(a["subject_ref"], a["rule_id"]) for a in consents] == [
        ("MUM", "CONSENT_GIVEN"),
        ("DAD", "CONSENT_REFUSED"),
    ]


async def test_a_person_marker_from_an_intelligence_return_hides_where_they_are(rig: Rig) -> None:
    """MARAC practice and DOMAIN "Victims who have fled": health holds a confidential-address marker on a
    mother who fled. Her address, her GP (health_summary) and the police's address for her are withheld
    from the police and health desks; children's social care sees them, under the marker."""
    await rig.referral("R-FLED", "RED", subjects=FAMILY)
    await rig.assign("R-FLED", CSC, POLICE, HEALTH)
    await rig.settle()
    marker = [{"subject_ref": "MUM", "scope": "PERSON"}]
    items = sections("address", "health_summary", subject="MUM")
    await rig.intel("health.devon", "R-FLED", items, confidential_addresses=marker)
    await rig.settle()
    await rig.intel("police.devon", "R-FLED", sections("address", "police_incidents", subject="MUM"))
    await rig.settle()

    police, health, csc = [await rig.cells(s, "R-FLED") for s in (POLICE, HEALTH, CSC)]
    assert police[("address", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert police[("police_incidents", "MUM")] == ("RELEASE", "")
    assert health[("address", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert health[("health_summary", "MUM")] == ("WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS")
    assert csc[("address", "MUM")] == ("RELEASE", "")
    assert csc[("health_summary", "MUM")] == ("RELEASE", "")
    rows = [a for a in await rig.audit("R-FLED") if a["category"] == "address" and a["subject_ref"] == "MUM"]
    assert all("CONFIDENTIAL_ADDRESS" in a["protected"] for a in rows)


async def test_a_retired_domestic_abuse_v1_section_is_withheld(rig: Rig, tmp_path: Path) -> None:
    """DOMAIN "Victims who have fled": safe contact details are never released, and a DomesticAbuse v1 case
    embeds them, so a v1 section is withheld from every desk; a v2 one is released as the rules say. The
    broker reads the version from the section's payload_schema fingerprint (it cannot decrypt it)."""
    root = tmp_path / "old-schemas"
    shutil.copytree(default_schemas_dir(), root)
    (root / "payload" / "DomesticAbuse.v2.avsc").unlink()
    old = Envelopes(SchemaRegistry.load(root), rig.world.directory, rig.world.keys["police.devon"])
    await rig.referral("R-DA", "RED")
    await rig.assign("R-DA", CSC, POLICE)
    await rig.settle()
    value = old.seal(
        kind="INTEL",
        referral_id="R-DA",
        body=intel_body("police", ["S1"]),
        sections=sections("domestic_abuse"),
        recipients=["broker"],
    )
    await rig.producer.send_and_wait(rig.topics.intel("police"), value, key=b"R-DA")
    await rig.intel("police.devon", "R-DA", sections("domestic_abuse", subject="S2"))
    await rig.settle()

    for sub in (CSC, POLICE):
        cells = await rig.cells(sub, "R-DA")
        assert cells[("domestic_abuse", "S1")] == ("WITHHOLD", "SYS-RETIRED-SCHEMA"), sub
        assert cells[("domestic_abuse", "S2")] == ("RELEASE", ""), sub
