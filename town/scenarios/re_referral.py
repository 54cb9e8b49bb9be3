"""Re-referral: a five-year-old is referred twice. The first contact ends in information and advice; the
second, soon after, is a re-referral within twelve months, and his mother has had a previous child removed
from her care. During the second, the MASH adds her new partner to the case.

The rules: a referral within twelve months of a previous referral about the same child is a re-referral
(children-in-need census), and a previous child removed from a parent's care raises the risk of a new
contact sharply (DOMAIN "Stages, outcomes and late information"); the front door's person index shows both
(RE_REFERRAL, PREVIOUS_CHILD_REMOVED), and a sibling or a new partner can be added to a case after intake
(SUBJECT_ADDED). Only the front door keeps the index: the desks see no index flag.
"""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Person
from town.scenarios.common import (
    CSC,
    HEALTH,
    POLICE,
    UNTOLD,
    Expect,
    Ids,
    Scenario,
    ScenarioSubject,
    Step,
    attendance,
    born,
    person,
    rel,
    withheld,
)

_HOME = Address(("5 Clifton Street",), "Bideford", "EX39 4AA", "100040003305")
_REFERRER = {
    "name": "Designated safeguarding lead",
    "relationship_to_child": "School",
    "is_professional": True,
    "organisation": "Westcroft School",
}
REMOVED, AGAIN = "previous_child_removed", "re_referral_within_12_months"


def _household(today: date, ids: Ids) -> tuple[Household, Person, Person, Person]:
    boy = person(
        ids, "rr.boy", "Kai", "Huxtable", born(today, 5, 110), "MALE", _HOME, {"education"}, school=True
    )
    mother = person(
        ids,
        "rr.mother",
        "Stacey",
        "Huxtable",
        born(today, 30, 48),
        "FEMALE",
        _HOME,
        {"socialcare", "education"},
    )
    partner = person(
        ids, "rr.partner", "Jordan", "Eddy", born(today, 33, 301), "MALE", _HOME, {"police"}, police=True
    )
    removed = {"removed_on": today - timedelta(days=1500), "order": "Placement order"}
    assault = {
        "disposal_type": "CONVICTION",
        "offence": "Affray",
        "offence_code": "PU86001",
        "offence_category": "PUBLIC_ORDER",
        "offence_date": today - timedelta(days=500),
        "disposal_date": today - timedelta(days=450),
        "outcome": "Community order",
        "court": "Barnstaple Magistrates' Court",
        "spent": False,
    }
    held = [
        attendance(boy.key, today, "Westcroft School", 87.0, 14),
        Held(
            "socialcare",
            mother.key,
            "social_care_history.children_removed",
            removed,
            today - timedelta(days=1500),
        ),
        Held("police", partner.key, "police_convictions.disposals", assault, today - timedelta(days=450)),
    ]
    rels = [rel(boy.key, mother.key, "MOTHER", True), rel(boy.key, partner.key, "PARENTS_PARTNER", False)]
    return Household("rr", [boy, mother, partner], rels, held), boy, mother, partner


def scenarios(today: date, ids: Ids) -> tuple[Scenario, Scenario]:
    """Both referrals, about one household (written to the agencies' systems once)."""
    household, boy, mother, partner = _household(today, ids)
    return _first(household, boy, mother), _again(household, boy, mother, partner)


def _first(household: Household, boy: Person, mother: Person) -> Scenario:
    return Scenario(
        key="first-contact",
        title="First contact",
        story="The school refers a five-year-old who comes in unwashed and hungry. Information and advice is "
        "given. The front door's index already shows that his mother had a child removed (its social care "
        "record, released to children's social care at Green): a raised risk, even on a first contact.",
        household=household,
        subjects=(ScenarioSubject("S1", boy.key, "CHILD"), ScenarioSubject("S2", mother.key, "PARENT")),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Kai often comes in unwashed and says there was no breakfast. Mum is hard to reach.",
        referrer=_REFERRER,
        assign=(CSC,),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "INFORMATION_AND_ADVICE",
                    "reason": "Advice to the school and the family on local support",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "EMAIL"},
                },
            ),
        ),
        expect={
            CSC: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "contact_education_attendance",
                        "identifier_nhs",
                        "identifier_local",
                        "address",
                        "referral_details",
                        "referrer_identity",
                        "education_attendance",
                        "social_care_history",
                    }
                ),
                withheld(identifier_upn=SystemRule.PURPOSE),
                frozenset({REMOVED}),
                why="A first referral: no re-referral flag; the previous removal is the mother's social "
                "care history, which the decision makers see at Green (R-CSC-GREEN). After the decision a "
                "return from before it serves no purpose (SYS-PURPOSE): the UPN stays withheld.",
            )
        },
    )


def _again(household: Household, boy: Person, mother: Person, partner: Person) -> Scenario:
    added = Step(
        "subjects",
        {
            "subject": {
                "subject_ref": "S3",
                "role": "HOUSEHOLD_MEMBER",
                "given_names": partner.given_names,
                "family_name": partner.family_name,
                "dob": partner.dob.isoformat(),
                "postcode": partner.address.postcode,
            },
            "reason": "Mother's new partner is living at the home",
        },
        enquiry_purpose="TRIAGE",
    )
    return Scenario(
        key="re-referral",
        title="Re-referral",
        story="Soon after, the police find the boy alone at night. A re-referral within twelve months "
        "(children-in-need census) about a child whose mother had a previous child removed: the front "
        "door's index shows both. The MASH adds the mother's new partner to the case (SUBJECT_ADDED).",
        household=household,
        subjects=(ScenarioSubject("S1", boy.key, "CHILD"), ScenarioSubject("S2", mother.key, "PARENT")),
        concerns=("NEGLECT",),
        source_type="POLICE",
        rag="AMBER",
        summary="Officers called by a neighbour found the boy alone in the house at 23:00. Mother returned "
        "an hour later with a new partner.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        steps=(added,),
        shares_household=True,
        expect=_again_expect(),
    )


def _again_expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    known = {"identity", "contact", "address", "referral_details"}
    school = "contact_education_attendance"
    return {
        CSC: Expect(
            frozenset(
                known
                | {
                    school,
                    "identifier_nhs",
                    "identifier_local",
                    "education_attendance",
                    "social_care_history",
                    "police_convictions",
                }
            ),
            withheld(identifier_upn=deny, identifier_pnc=deny),
            frozenset({REMOVED, AGAIN}),
            why="The front door's person index: a re-referral within 12 months (CIN census), a previous "
            "child removed; the partner's record is there to decide at Amber (R-CSC-FULL).",
        ),
        POLICE: Expect(
            frozenset(
                known
                | {
                    "identifier_pnc",
                    "social_care_history",
                    "police_convictions",
                }
            ),
            withheld(
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
                education_attendance=deny,
            ),
            flags=frozenset({REMOVED}),
            why="What bears on risk of harm (R-POLICE-DESK), the mother's social care history among it, so "
            "the removal shows here too; whether it is a re-referral is the front door's index alone.",
        ),
        HEALTH: Expect(
            frozenset(
                known
                | {
                    school,
                    "identifier_nhs",
                    "education_attendance",
                    "social_care_history",
                }
            ),
            withheld(
                identifier_upn=deny,
                identifier_pnc=deny,
                identifier_local=deny,
                police_convictions=deny,
            ),
            flags=frozenset({REMOVED}),
            why="What bears on the child's health (R-HEALTH-DESK), social care history among it; the "
            "re-referral is the front door's index alone.",
            not_told=UNTOLD,
        ),
    }
