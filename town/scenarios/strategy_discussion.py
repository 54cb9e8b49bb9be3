"""Strategy discussion on a Green contact: a school's referral is rated Green and early help considered,
until the hospital's return shows two injuries in two months and the mother's partner has a conviction for
violence. The MASH convenes a strategy discussion at once, whatever the rating, and brings in the police and
health desks: the police need the health findings to decide on a joint investigation.

The rules: where there is reasonable cause to suspect significant harm (Children Act 1989 s47) the strategy
discussion happens at once, whatever the RAG; children's social care, police and health take part, and the
police need health findings, injuries and medical history, to decide on a joint investigation (Working
Together 2023 ch. 3; R-POLICE-S47-HEALTH). The early-help partner hub takes no part (R-KNOWN-CONTACT only).
"""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Person
from town.scenarios.common import (
    CSC,
    HEALTH,
    PARTNER,
    POLICE,
    UNTOLD,
    Expect,
    Ids,
    Scenario,
    ScenarioSubject,
    Step,
    attendance,
    born,
    gp,
    person,
    rel,
    withheld,
)

_HOME = Address(("27 Exe Vale Road",), "Exeter", "EX2 6LF", "100040231127")


def scenario(today: date, ids: Ids) -> Scenario:
    child, mother, partner = _family(today, ids)
    household = Household(
        "sd",
        [child, mother, partner],
        [
            rel(child.key, mother.key, "MOTHER", True),
            rel(child.key, partner.key, "PARENTS_PARTNER", False),
            rel(mother.key, partner.key, "PARTNER", None),
        ],
        [*_health(today, child), *_school_and_police(today, child, partner)],
    )
    return Scenario(
        key="strategy-discussion",
        title="Strategy discussion on Green",
        story="A school refers a four-year-old for missed sessions and a bandaged wrist; rated Green, early "
        "help considered. The hospital's return shows two injuries in two months, and the mother's partner "
        "has a conviction for violence. The MASH convenes a strategy discussion at once, whatever the rating "
        "(Children Act 1989 s47), and brings in the police and health desks: the police see the health "
        "findings (Working Together 2023 ch. 3); the partner hub sees only who is known.",
        household=household,
        subjects=(
            ScenarioSubject("S1", child.key, "CHILD"),
            ScenarioSubject("S2", mother.key, "PARENT"),
            ScenarioSubject("S3", partner.key, "HOUSEHOLD_MEMBER", ids=("pnc",)),
        ),
        concerns=("NEGLECT", "PHYSICAL_ABUSE"),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Has missed eleven sessions this half term. Came in with his wrist bandaged and said he fell "
        "down the stairs. Mum seemed keen to leave quickly.",
        referrer={
            "name": "Reception class teacher",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": "Countess Wear Primary",
        },
        assign=(CSC, PARTNER, POLICE, HEALTH),
        initial_assign=(CSC, PARTNER),
        steps=(
            Step("assignments", {"subscribers": [POLICE, HEALTH], "assigned_by": "MASH team manager"}),
            Step(
                "strategy-discussion",
                {
                    "reason": "Two injuries in two months and a household member convicted of violence: "
                    "reasonable cause to suspect significant harm",
                    "decided_by": "MASH team manager",
                },
                # Every agency is asked again, for the strategy discussion's picture.
                enquiry_purpose="STRATEGY_DISCUSSION",
            ),
        ),
        expect=_expect(),
    )


def _family(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    child = person(
        ids, "sd.child", "Alfie", "Rowe", born(today, 4, 200), "MALE", _HOME, {"education"}, school=True
    )
    mother = person(ids, "sd.mother", "Jodie", "Rowe", born(today, 25, 14), "FEMALE", _HOME, {"education"})
    partner = person(
        ids, "sd.partner", "Liam", "Parr", born(today, 29, 250), "MALE", _HOME, {"police"}, police=True
    )
    return child, mother, partner


def _health(today: date, child: Person) -> list[Held]:
    injuries = (
        (10, "Fractured left wrist; history of a fall down the stairs", True),
        (63, "Head injury; bruising to the forehead", False),
    )
    return [
        Held(
            "health",
            child.key,
            "health_summary.emergency_attendances",
            {
                "attendance_date": today - timedelta(days=d),
                "reason": reason,
                "site": "Royal Devon and Exeter Hospital",
                "injury": True,
                "safeguarding_concern_raised": raised,
                "admitted": False,
            },
            today - timedelta(days=d),
        )
        for d, reason, raised in injuries
    ] + [gp(child.key, today, "Topsham Road Surgery", 4)]


def _school_and_police(today: date, child: Person, partner: Person) -> list[Held]:
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Assault occasioning actual bodily harm",
        "offence_code": "CJ88108",
        "offence_category": "VIOLENCE",
        "offence_date": today - timedelta(days=1200),
        "disposal_date": today - timedelta(days=1100),
        "outcome": "Suspended sentence 12 months",
        "court": "Exeter Crown Court",
        "spent": False,
    }
    return [
        attendance(child.key, today, "Countess Wear Primary", 86.5, 11),
        Held("police", partner.key, "police_convictions.disposals", conviction, today - timedelta(days=1100)),
    ]


def _expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    known = {"identity", "contact"}
    shared = known | {"address", "referral_details", "health_summary"}
    return {
        CSC: Expect(
            frozenset(
                shared
                | {
                    "contact_education_attendance",
                    "identifier_nhs",
                    "identifier_pnc",
                    "referrer_identity",
                    "police_convictions",
                    "education_attendance",
                }
            ),
            withheld(identifier_upn=deny),
            why="A strategy discussion is a live purpose whatever the RAG: the full agreed picture "
            "(R-CSC-S47), with the PNC ID it may need to act (R-ID-PNC-CSC).",
        ),
        POLICE: Expect(
            frozenset(shared | {"identifier_pnc", "police_convictions"}),
            withheld(
                identifier_nhs=deny,
                identifier_upn=deny,
                education_attendance=deny,
                referrer_identity=deny,
            ),
            why="Health findings to decide on a joint investigation (R-POLICE-S47-HEALTH, Working Together "
            "2023 ch. 3) and what bears on crime (R-POLICE-DESK); not schooling (nor the school's name in "
            "its screening answer, never released to it), nor the referrer.",
        ),
        HEALTH: Expect(
            frozenset(shared | {"identifier_nhs", "education_attendance", "contact_education_attendance"}),
            withheld(
                identifier_upn=deny,
                identifier_pnc=deny,
                police_convictions=deny,
                referrer_identity=deny,
            ),
            why="Health and what bears on the child's health (R-HEALTH-DESK); convictions are the police's.",
            not_told=UNTOLD,
        ),
        PARTNER: Expect(
            frozenset(known),
            withheld(
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_pnc=deny,
                address=deny,
                referral_details=deny,
                referrer_identity=deny,
                police_convictions=deny,
                health_summary=deny,
                education_attendance=deny,
            ),
            why="Early help takes no part in a strategy discussion: known / not known and contact only "
            "(R-KNOWN-CONTACT); an answer naming what it may not know is never released to it "
            "(SYS-SCOPED-CONTACT).",
            not_told=UNTOLD,
        ),
    }
