"""Sex offender: a registered sex offender on licence has started a relationship with a mother of two.
His MAPPA record is controlled by probation: the police and children's social care may see it, the
health desk may not (MAPPA data is controlled by its originator: DOMAIN "What each agency returns").

Nor may the health desk learn the fact another way: a screening answer naming a MOSOVO team says what the
police's intelligence would, so it is never released to the health desk (SYS-SCOPED-CONTACT); and being
known to probation at all is probation's fact, so the health desk is not told that probation answered
(DOMAIN "Who a screening answer may tell what")."""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Person, Spelling
from town.scenarios.common import (
    CSC,
    HEALTH,
    POLICE,
    UNTOLD,
    Expect,
    Ids,
    Scenario,
    ScenarioSubject,
    attendance,
    born,
    contact,
    gp,
    person,
    rel,
    withheld,
)

_HOME = Address(("7 Ferndale Close",), "Paignton", "TQ3 2LX", "100040533107")
_HIS = Address(("22 Dartmouth Road",), "Paignton", "TQ4 5AB")


def scenario(today: date, ids: Ids) -> Scenario:
    mother, girl, boy, offender = _people(today, ids)
    household = Household(
        "rso",
        [mother, girl, boy, offender],
        [
            rel(girl.key, mother.key, "MOTHER", True),
            rel(boy.key, mother.key, "MOTHER", True),
            rel(girl.key, offender.key, "PARENTS_PARTNER", False, False),
            rel(mother.key, offender.key, "PARTNER", None, False),
        ],
        [*_offender(today, offender), *_children(today, girl, boy)],
    )
    return Scenario(
        key="sex-offender",
        title="Sex offender",
        story="A registered sex offender on licence has started a relationship with a mother of two. His "
        "MAPPA record is controlled by probation: the police and children's social care may see it, the "
        "health desk may not (SYS-ORIGINATOR), nor learn it from a screening answer naming his MOSOVO "
        "team (never released to it, audited as SYS-SCOPED-CONTACT), nor even that probation answered.",
        household=household,
        subjects=(
            ScenarioSubject("S1", girl.key, "CHILD"),
            ScenarioSubject("S2", boy.key, "SIBLING"),
            ScenarioSubject("S3", mother.key, "PARENT"),
            ScenarioSubject("S4", offender.key, "HOUSEHOLD_MEMBER", ids=("pnc",)),
        ),
        concerns=("SEXUAL_ABUSE",),
        source_type="PROBATION",
        rag="RED",
        summary="Offender manager learned at supervision that he has been staying at the home of a woman "
        "with two young children. He did not disclose the relationship.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect=_expect(),
    )


def _people(today: date, ids: Ids) -> tuple[Person, Person, Person, Person]:
    mother = person(ids, "rso.mother", "Gemma", "Tozer", born(today, 29, 77), "FEMALE", _HOME, {"education"})
    girl = person(
        ids,
        "rso.girl",
        "Ellie",
        "Tozer",
        born(today, 7, 30),
        "FEMALE",
        _HOME,
        {"education"},
        school=True,
        spellings={"health": Spelling("Eleanor", "Tozer")},
    )
    boy = person(ids, "rso.boy", "Harvey", "Tozer", born(today, 4, 150), "MALE", _HOME, set())
    offender = person(
        ids,
        "rso.offender",
        "Martin",
        "Kellow",
        born(today, 46, 5),
        "MALE",
        _HIS,
        {"police", "probation"},
        police=True,
    )
    return mother, girl, boy, offender


def _offender(today: date, offender: Person) -> list[Held]:
    record = {
        "mappa_category": "CATEGORY_1",
        "mappa_level": "LEVEL_2",
        "custody_status": "ON_LICENCE",
        "release_date": today - timedelta(days=240),
        "sentence_end_date": today + timedelta(days=900),
        "offence_type": "Sexual offence against a child",
        "registered_sex_offender": True,
        "rosh_level": "HIGH",
        "rosh_to_children": "HIGH",
        "licence_conditions": [
            "Disclose any developing relationship with a woman with children",
            "No unsupervised contact with any child under 18",
        ],
        "approved_premises": None,
        "exclusion_zones": ["Primary schools in Torbay"],
        "offender_manager_role": "Probation officer (MAPPA lead)",
    }
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Sexual activity with a child",
        "offence_code": "SX03010",
        "offence_category": "SEXUAL",
        "offence_date": today - timedelta(days=2600),
        "disposal_date": today - timedelta(days=2400),
        "outcome": "Imprisonment 6 years; notification requirements indefinitely",
        "court": "Exeter Crown Court",
        "spent": False,
    }
    return [
        Held("probation", offender.key, "probation", record, today - timedelta(days=2)),
        contact("probation", offender.key, today, "Torbay probation delivery unit", "01803 213500", True),
        Held(
            "police", offender.key, "police_convictions.disposals", conviction, today - timedelta(days=2400)
        ),
        contact("police", offender.key, today, "Torbay MOSOVO team", "01803 841300", True),
    ]


def _children(today: date, girl: Person, boy: Person) -> list[Held]:
    review = {
        "service": "HEALTH_VISITING",
        "contact_date": today - timedelta(days=21),
        "contact_type": "4-year review",
        "attendance": "ATTENDED",
        "concerns": "Mother mentioned a new partner staying most nights",
    }
    return [
        Held("health", boy.key, "health_summary.community_contacts", review, today - timedelta(days=21)),
        attendance(girl.key, today, "Oldway Primary School", 96.1, 0),
        gp(girl.key, today, "Parkside Surgery", 7),
    ]


def _expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    flags = frozenset({"sex_offender_in_contact"})
    known = {"identity", "contact", "address", "referral_details"}
    # The MOSOVO team's name says police intelligence; the probation unit's, probation.
    answers = {"contact_police_intelligence", "contact_probation"}
    return {
        CSC: Expect(
            frozenset(
                known
                | answers
                | {
                    "contact_education_attendance",
                    "identifier_nhs",
                    "identifier_local",
                    "probation",
                    "police_convictions",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(identifier_pnc=deny, identifier_upn=deny),
            flags,
            why="At Red the full agreed picture (R-CSC-FULL); MAPPA data as probation allows.",
        ),
        POLICE: Expect(
            frozenset(known | answers | {"identifier_pnc", "probation", "police_convictions"}),
            withheld(
                health_summary=deny,
                education_attendance=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
            ),
            flags,
            why="Probation allows the police desk MAPPA data (R-POLICE-DESK, originator control), and so "
            "the screening answers that name its teams.",
        ),
        HEALTH: Expect(
            frozenset(
                known
                | {"contact_education_attendance", "identifier_nhs", "health_summary", "education_attendance"}
            ),
            withheld(
                police_convictions=deny,
                identifier_pnc=deny,
                identifier_upn=deny,
            ),
            why="Refused MAPPA data by originator control (SYS-ORIGINATOR, audited), it must not read the "
            "same fact from a screening answer naming a MOSOVO team (never released, SYS-SCOPED-CONTACT), "
            "nor learn that probation answered at all: being known to probation is probation's fact.",
            not_told=UNTOLD,
        ),
    }
