"""Bike theft: a boy suspected of stealing a bike, a father due out of prison, a mother who has stopped
engaging with adult mental health. The police and probation hold the father's side, health the mother's."""

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

_HOME = Address(("14 Wyndham Road",), "Exeter", "EX4 6DR", "100040212014")
_PRISON = Address(("HMP Exeter", "30 New North Road"), "Exeter", "EX4 4EX")


def scenario(today: date, ids: Ids) -> Scenario:
    child, father, mother = _family(today, ids)
    held = [
        *_police(today, child, father),
        *_probation(today, father),
        *_health_and_school(today, child, mother),
    ]
    household = Household(
        "bike",
        [child, father, mother],
        [rel(child.key, mother.key, "MOTHER", True), rel(child.key, father.key, "FATHER", True, False)],
        held,
    )
    return Scenario(
        key="bike-theft",
        title="Bike theft",
        story="Police refer a 12-year-old suspected of stealing a bike. His father is due out of prison "
        "within the month; his mother has stopped engaging with adult mental health.",
        household=household,
        subjects=(
            ScenarioSubject("S1", child.key, "CHILD", given_names="Tyler", family_name="Brennan"),
            ScenarioSubject("S2", father.key, "PARENT", ids=("pnc",)),
            ScenarioSubject("S3", mother.key, "PARENT"),
        ),
        concerns=("CRIMINAL_EXPLOITATION", "PARENTAL_MENTAL_HEALTH"),
        source_type="POLICE",
        rag="AMBER",
        summary="Child identified on CCTV taking a bicycle. Officers noted the home was cold and the child "
        "said he was often out late. Father believed to be in prison.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect=_expect(),
    )


def _family(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    child = person(
        ids,
        "bike.child",
        "Tyler",
        "Brennan",
        born(today, 12, 75),
        "MALE",
        _HOME,
        {"police", "education"},
        school=True,
    )
    father = person(
        ids,
        "bike.father",
        "Craig",
        "Brennan",
        born(today, 38, 201),
        "MALE",
        _PRISON,
        {"police", "probation"},
        police=True,
        spellings={"probation": Spelling("Craig Anthony", "Brenan")},
    )
    mother = person(
        ids,
        "bike.mother",
        "Kerry",
        "Brennan",
        born(today, 35, 40),
        "FEMALE",
        _HOME,
        {"education"},
        spellings={"health": Spelling("Kerry-Ann", "Brennan")},
    )
    return child, father, mother


def _police(today: date, child: Person, father: Person) -> list[Held]:
    incident = {
        "incident_ref": "DC-26-118743",
        "incident_date": today - timedelta(days=6),
        "incident_type": "Theft of a pedal cycle",
        "subject_role": "SUSPECT",
        "child_present": None,
        "domestic_abuse": False,
        "summary": "Bicycle taken from outside a newsagent; identified on CCTV",
        "location_postcode": "EX4 6PX",
        "ppn_submitted": True,
    }
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Burglary of a dwelling",
        "offence_code": "TH68010",
        "offence_category": "ACQUISITIVE",
        "offence_date": today - timedelta(days=700),
        "disposal_date": today - timedelta(days=560),
        "outcome": "Imprisonment 36 months",
        "court": "Exeter Crown Court",
        "spent": False,
    }
    return [
        Held("police", child.key, "police_incidents", incident, today - timedelta(days=6), "ALLEGATION"),
        contact("police", child.key, today, "Exeter neighbourhood team", "01392 452000", True),
        Held("police", father.key, "police_convictions.disposals", conviction, today - timedelta(days=560)),
    ]


def _probation(today: date, father: Person) -> list[Held]:
    record = {
        "mappa_category": None,
        "mappa_level": None,
        "custody_status": "IN_CUSTODY",
        "release_date": today + timedelta(days=19),
        "sentence_end_date": today + timedelta(days=560),
        "offence_type": "Burglary",
        "registered_sex_offender": False,
        "rosh_level": "MEDIUM",
        "rosh_to_children": "LOW",
        "licence_conditions": [
            "Reside at an address approved by the probation practitioner",
            "Curfew 19:00 to 07:00 with electronic monitoring",
            "Attend all supervision appointments",
        ],
        "approved_premises": None,
        "exclusion_zones": [],
        "offender_manager_role": "Probation officer",
    }
    return [
        Held("probation", father.key, "probation", record, today - timedelta(days=30)),
        contact("probation", father.key, today, "Exeter probation delivery unit", "01392 421100", True),
    ]


def _health_and_school(today: date, child: Person, mother: Person) -> list[Held]:
    episode = {
        "service": "ADULT_MENTAL_HEALTH",
        "engagement": "DISENGAGED",
        "diagnosis_summary": "Depression and anxiety",
        "open_date": today - timedelta(days=300),
        "discharge_date": None,
        "care_coordinator_role": "Community psychiatric nurse",
        "risk_to_self": False,
        "risk_to_others": False,
        "risk_notes": "Missed the last three appointments",
    }
    return [
        Held("health", mother.key, "mental_health.episodes", episode, today - timedelta(days=14)),
        gp(child.key, today, "Wonford Green Surgery", 10),
        attendance(child.key, today, "Isca Academy", 93.4, 4),
        contact("education", child.key, today, "Isca Academy safeguarding lead", "01392 204080", True),
    ]


def _expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    known = {"identity", "contact", "address", "referral_details"}
    return {
        CSC: Expect(
            frozenset(
                known
                | {
                    "contact_probation",
                    "contact_mental_health",
                    "contact_education_attendance",
                    "identifier_nhs",
                    "identifier_local",
                    "police_incidents",
                    "police_convictions",
                    "probation",
                    "mental_health",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(identifier_pnc=deny, identifier_upn=deny),
            frozenset({"release_within_28_days", "parental_mental_health"}),
            why="At Amber the full agreed picture (R-CSC-FULL), every screening answer with it; the PNC ID "
            "only under s47 (R-ID-PNC-CSC), the UPN never (DfE UPN guidance).",
        ),
        POLICE: Expect(
            frozenset(
                known
                | {
                    "contact_probation",
                    "identifier_pnc",
                    "police_incidents",
                    "police_convictions",
                    "probation",
                }
            ),
            withheld(
                mental_health=deny,
                health_summary=deny,
                education_attendance=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
            ),
            frozenset({"release_within_28_days"}),
            why="What bears on crime and risk (R-POLICE-DESK), probation's among it; not the mother's mental "
            "health, nor the team's name that would say so, nor the school's: those screening answers are "
            "never released to it (audited as SYS-SCOPED-CONTACT).",
        ),
        HEALTH: Expect(
            frozenset(
                known
                | {
                    "contact_mental_health",
                    "contact_education_attendance",
                    "identifier_nhs",
                    "mental_health",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(
                police_incidents=deny,
                police_convictions=deny,
                identifier_pnc=deny,
                identifier_upn=deny,
            ),
            frozenset({"parental_mental_health"}),
            why="Probation's originator control keeps its record from the health desk (SYS-ORIGINATOR, "
            "audited), and being known to probation at all is probation's fact: the health desk is not told "
            "that probation answered, nor its unit's name (R-KNOWN-CONTACT scoped answers).",
            not_told=UNTOLD,
        ),
    }
