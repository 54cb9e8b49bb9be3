"""Drug house: an anti-social-behaviour call to a council flat where two children live. Housing, the
police, the school and the hospital each hold a piece; the police's intelligence goes to the police and
children's social care only."""

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

_FLAT = Address(("Flat 4, Carrick House", "Sidwell Street"), "Exeter", "EX4 6NN", "100040219954")


def scenario(today: date, ids: Ids) -> Scenario:
    mother, teen, girl = _family(today, ids)
    held = [*_housing(today, mother), *_police(today, mother), *_school_and_health(today, teen, girl)]
    household = Household(
        "drug",
        [mother, teen, girl],
        [rel(teen.key, mother.key, "MOTHER", True), rel(girl.key, mother.key, "MOTHER", True)],
        held,
    )
    return Scenario(
        key="drug-house",
        title="Drug house",
        story="An anti-social-behaviour call to a council flat where two children live. Housing, police, "
        "the school and the hospital each hold a piece.",
        household=household,
        subjects=(
            ScenarioSubject("S1", teen.key, "CHILD"),
            ScenarioSubject("S2", girl.key, "SIBLING"),
            ScenarioSubject("S3", mother.key, "PARENT"),
        ),
        concerns=("CRIMINAL_EXPLOITATION", "NEGLECT", "SUBSTANCE_MISUSE"),
        source_type="POLICE",
        rag="RED",
        summary="Neighbour reports constant visitors to the flat day and night; two children live there. "
        "Officers attending found the older child absent from school.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect=_expect(),
    )


def _family(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    mother = person(
        ids,
        "drug.mother",
        "Leanne",
        "Pascoe",
        born(today, 33, 12),
        "FEMALE",
        _FLAT,
        {"police", "housing", "education"},
        police=True,
        spellings={"housing": Spelling("Leanne", "Pascoe-Hill"), "police": Spelling("Pascoe", "Leanne")},
    )
    teen = person(
        ids,
        "drug.teen",
        "Jayden",
        "Pascoe",
        born(today, 14, 100),
        "MALE",
        _FLAT,
        {"education", "police"},
        school=True,
    )
    girl = person(
        ids,
        "drug.girl",
        "Maisie",
        "Pascoe",
        born(today, 9, 210),
        "FEMALE",
        _FLAT,
        {"education"},
        school=True,
        spellings={"education": Spelling("Maise", "Pascoe")},
    )
    return mother, teen, girl


def _housing(today: date, mother: Person) -> list[Held]:
    tenancy = {
        "tenure_type": "SECURE",
        "tenancy_start": today - timedelta(days=1400),
        "tenancy_end": None,
        "landlord": "Exeter City Council",
        "lead_tenant": True,
        "postcode": _FLAT.postcode,
        "uprn": _FLAT.uprn,
        "household_size": 3,
        "arrears_pence": 84250,
        "arrears_status": "IN_ARREARS",
        "property_flags": ["DRUG_ACTIVITY", "CUCKOOING_RISK"],
    }
    complaints = [
        Held(
            "housing",
            mother.key,
            "housing.asb_complaints",
            {
                "complaint_date": today - timedelta(days=d),
                "complaint_type": what,
                "subject_role": "ALLEGED_PERPETRATOR",
                "outcome": outcome,
            },
            today - timedelta(days=d),
            "ALLEGATION",
        )
        for d, what, outcome in (
            (41, "Visitors at all hours", "Warning letter"),
            (19, "Drug paraphernalia in stairwell", "Referred to police"),
            (3, "Noise and visitors through the night", None),
        )
    ]
    return [
        Held("housing", mother.key, "housing.tenancies", tenancy, today - timedelta(days=10)),
        *complaints,
        contact("housing", mother.key, today, "Exeter tenancy services", "01392 665000", True),
    ]


def _police(today: date, mother: Person) -> list[Held]:
    intelligence = {
        "source_evaluation": "SOURCE_2_UNTESTED",
        "intelligence_assessment": "C_KNOWN_INDIRECTLY",
        "handling_code": "C_SHARING_WITH_CONDITIONS",
        "handling_conditions": "Not to be disclosed to the subject",
        "intelligence_date": today - timedelta(days=12),
        "summary": "Flat believed to be used to store and sell class A drugs by an out-of-area line",
        "themes": ["DRUG_SUPPLY", "COUNTY_LINES", "CUCKOOING"],
        "subject_role": "AT_RISK",
        "linked_address_postcode": _FLAT.postcode,
        "linked_subject_refs": [],
    }
    incident = {
        "incident_ref": "DC-26-120311",
        "incident_date": today - timedelta(days=2),
        "incident_type": "Anti-social behaviour",
        "subject_role": "OTHER",
        "child_present": True,
        "domestic_abuse": False,
        "summary": "Call from a neighbour about visitors and shouting",
        "location_postcode": _FLAT.postcode,
        "ppn_submitted": True,
    }
    return [
        Held(
            "police",
            mother.key,
            "police_intelligence",
            intelligence,
            today - timedelta(days=12),
            "ALLEGATION",
        ),
        Held("police", mother.key, "police_incidents", incident, today - timedelta(days=2)),
        contact("police", mother.key, today, "Exeter neighbourhood team", "01392 452000", True),
    ]


def _school_and_health(today: date, teen: Person, girl: Person) -> list[Held]:
    missing = [
        Held(
            "education",
            teen.key,
            "education_attendance.missing_episodes",
            {
                "episode_type": "MISSING_FROM_SCHOOL",
                "start_date": today - timedelta(days=d),
                "end_date": today - timedelta(days=d - 1),
                "notes": "Left site at lunchtime",
            },
            today - timedelta(days=d),
        )
        for d in (33, 9)
    ]
    emergency = {
        "attendance_date": today - timedelta(days=16),
        "reason": "Laceration to the hand",
        "site": "Royal Devon and Exeter Hospital",
        "injury": True,
        "safeguarding_concern_raised": True,
        "admitted": False,
    }
    return [
        attendance(teen.key, today, "St Luke's Science and Sports College", 71.5, 31),
        *missing,
        attendance(girl.key, today, "Ladysmith Junior School", 88.0, 12),
        contact("education", teen.key, today, "St Luke's safeguarding lead", "01392 204000", True),
        Held(
            "health", teen.key, "health_summary.emergency_attendances", emergency, today - timedelta(days=16)
        ),
        gp(girl.key, today, "St Thomas Health Centre", 8),
    ]


def _expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    police_sees = {
        "identity",
        "contact",
        "address",
        "referral_details",
        "housing",
        "police_intelligence",
        "police_incidents",
    }
    return {
        CSC: Expect(
            frozenset(
                police_sees
                | {
                    "contact_education_attendance",
                    "education_attendance",
                    "health_summary",
                    "identifier_nhs",
                    "identifier_local",
                }
            ),
            withheld(identifier_pnc=deny, identifier_upn=deny),
            frozenset({"drug_supply_address"}),
            why="At Red the full agreed picture (R-CSC-FULL); police intelligence as its originator allows.",
        ),
        POLICE: Expect(
            frozenset(police_sees | {"identifier_pnc"}),
            withheld(
                education_attendance=deny,
                health_summary=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
            ),
            frozenset({"drug_supply_address"}),
            why="What bears on crime and risk (R-POLICE-DESK): housing, intelligence, incidents; not the "
            "schools, nor their names in a screening answer (never released, audited as SYS-SCOPED-CONTACT).",
        ),
        HEALTH: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "address",
                    "referral_details",
                    "identifier_nhs",
                    "contact_education_attendance",
                    "education_attendance",
                    "health_summary",
                }
            ),
            withheld(
                housing=deny,
                police_intelligence=deny,
                police_incidents=deny,
                identifier_pnc=deny,
                identifier_upn=deny,
                identifier_local=deny,
            ),
            why="What bears on the children's health (R-HEALTH-DESK); the intelligence is the police's.",
            not_told=UNTOLD,
        ),
    }
