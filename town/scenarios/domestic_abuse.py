"""Domestic abuse: the third incident in five months with a child present, a high DASH score and a MARAC
referral. The victim's safe contact details are returned, sealed, and never released to anyone."""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Kind, Person, Spelling
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
    person,
    rel,
    withheld,
)

_HOME = Address(("31 Chapel Street",), "Tiverton", "EX16 6BU", "100040601831")
# Days ago and the police reference of each incident, oldest first.
_INCIDENTS = ((150, "DC-26-090122"), (64, "DC-26-104877"), (1, "DC-26-121905"))


def scenario(today: date, ids: Ids) -> Scenario:
    victim, partner, boy, baby = _people(today, ids)
    held = [
        *_incidents(today, victim, partner),
        *_police(today, victim, partner),
        *_health_and_school(today, boy, baby),
    ]
    household = Household(
        "da",
        [victim, partner, boy, baby],
        [
            rel(boy.key, victim.key, "MOTHER", True),
            rel(boy.key, partner.key, "PARENTS_PARTNER", False),
            rel(baby.key, victim.key, "MOTHER", True),
            rel(baby.key, partner.key, "FATHER", True),
        ],
        held,
    )
    return Scenario(
        key="domestic-abuse",
        title="Domestic abuse",
        story="The third domestic-abuse incident in five months with a child present: a high DASH score and "
        "a MARAC referral. The victim's safe contact details are returned, sealed, and never released.",
        household=household,
        subjects=(
            ScenarioSubject("S1", boy.key, "CHILD"),
            ScenarioSubject("S2", baby.key, "SIBLING"),
            ScenarioSubject("S3", victim.key, "PARENT"),
            ScenarioSubject("S4", partner.key, "ALLEGED_PERPETRATOR", ids=("pnc",)),
        ),
        concerns=("DOMESTIC_ABUSE",),
        source_type="POLICE",
        rag="RED",
        summary="Officers attended a third domestic incident at the address. The six-year-old was in the "
        "room and called the police himself. DASH completed: high risk.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect=_expect(),
    )


def _people(today: date, ids: Ids) -> tuple[Person, Person, Person, Person]:
    victim = person(
        ids, "da.mother", "Sophie", "Marsh", born(today, 27, 160), "FEMALE", _HOME, {"police", "education"}
    )
    partner = person(
        ids,
        "da.partner",
        "Ryan",
        "Coles",
        born(today, 30, 300),
        "MALE",
        _HOME,
        {"police"},
        police=True,
        spellings={"police": Spelling("Ryan", "Coles")},
    )
    boy = person(
        ids,
        "da.boy",
        "Noah",
        "Marsh",
        born(today, 6, 45),
        "MALE",
        _HOME,
        {"education", "police"},
        school=True,
    )
    baby = person(
        ids,
        "da.baby",
        "Lily",
        "Coles",
        born(today, 0, 240),
        "FEMALE",
        _HOME,
        set(),
        spellings={"health": Spelling("Lily Rose", "Coles")},
    )
    return victim, partner, boy, baby


def _incidents(today: date, victim: Person, partner: Person) -> list[Held]:
    """Each incident as the police record it twice: once for the victim, once for the suspect."""
    held: list[Held] = []
    for n, (d, ref) in enumerate(_INCIDENTS, start=1):
        for who, role in ((victim.key, "VICTIM"), (partner.key, "SUSPECT")):
            incident = {
                "incident_ref": ref,
                "incident_date": today - timedelta(days=d),
                "incident_type": "Domestic abuse",
                "subject_role": role,
                "child_present": True,
                "domestic_abuse": True,
                "summary": f"Domestic incident {n} of 3 at the home; children in the house",
                "location_postcode": _HOME.postcode,
                "ppn_submitted": True,
            }
            kind: Kind = "ALLEGATION" if role == "SUSPECT" else "FACT"
            held.append(Held("police", who, "police_incidents", incident, today - timedelta(days=d), kind))
    return held


def _police(today: date, victim: Person, partner: Person) -> list[Held]:
    case = {
        "subject_role": "VICTIM",
        "other_party_subject_ref": None,
        "dash_risk_level": "HIGH",
        "dash_score": 17,
        "dash_date": today - timedelta(days=1),
        "incident_count": 3,
        "latest_incident_date": today - timedelta(days=1),
        "children_present": True,
        "marac_referred": True,
        "marac_date": today + timedelta(days=9),
        "idva_allocated": True,
    }
    safe_contact = {
        "phone": "07700 900461",
        "address_lines": ["c/o Tiverton library"],
        "postcode": "EX16 6NP",
        "safe_times": "Weekdays 10:00 to 12:00",
        "contact_via": "IDVA",
        "notes": "Never call after 17:00",
    }
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Assault by beating (domestic)",
        "offence_code": "CJ88116",
        "offence_category": "DOMESTIC_ABUSE",
        "offence_date": today - timedelta(days=900),
        "disposal_date": today - timedelta(days=850),
        "outcome": "Community order with a building better relationships requirement",
        "court": "Exeter Magistrates' Court",
        "spent": False,
    }
    return [
        Held("police", victim.key, "domestic_abuse.cases", case, today - timedelta(days=1)),
        Held("police", victim.key, "victim_safe_contact", safe_contact, today - timedelta(days=1)),
        Held("police", partner.key, "police_convictions.disposals", conviction, today - timedelta(days=850)),
        contact("police", victim.key, today, "Mid Devon public protection unit", "01884 252000", True),
    ]


def _health_and_school(today: date, boy: Person, baby: Person) -> list[Held]:
    missed = {
        "service": "HEALTH_VISITING",
        "contact_date": today - timedelta(days=35),
        "contact_type": "6-8 month review",
        "attendance": "WAS_NOT_BROUGHT",
        "concerns": None,
    }
    visit = {
        "service": "HEALTH_VISITING",
        "contact_date": today - timedelta(days=12),
        "contact_type": "Targeted home visit",
        "attendance": "ATTENDED",
        "concerns": "Mother anxious; bruising to her forearm noticed",
    }
    encompass = {
        "notification_date": today,
        "incident_ref": "DC-26-121905",
        "school_name": "Wilcombe Primary",
        "key_adult_role": "Designated safeguarding lead",
    }
    return [
        Held("health", baby.key, "health_summary.community_contacts", missed, today - timedelta(days=35)),
        Held(
            "health",
            baby.key,
            "health_summary.community_contacts",
            visit,
            today - timedelta(days=12),
            "OPINION",
        ),
        Held("education", boy.key, "education_attendance.encompass_notifications", encompass, today),
        attendance(boy.key, today, "Wilcombe Primary", 94.8, 2),
    ]


def _expect() -> dict[str, Expect]:
    deny, redacted = SystemRule.DEFAULT_DENY, SystemRule.REDACTED
    flags = frozenset({"repeat_domestic_abuse_child_present"})
    police_sees = {
        "identity",
        "contact",
        "address",
        "referral_details",
        "police_incidents",
        "domestic_abuse",
        "police_convictions",
    }
    return {
        CSC: Expect(
            frozenset(
                police_sees
                | {"contact_education_attendance", "identifier_nhs", "health_summary", "education_attendance"}
            ),
            withheld(victim_safe_contact=redacted, identifier_pnc=deny, identifier_upn=deny),
            flags,
            why="The victim's safe contact details go to no one (SYS-REDACTED; MARAC and IDVA practice).",
        ),
        POLICE: Expect(
            frozenset(police_sees | {"identifier_pnc"}),
            withheld(
                victim_safe_contact=redacted,
                health_summary=deny,
                education_attendance=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
            ),
            flags,
            why="Not even the police desk gets the safe contact details its own force returned "
            "(SYS-REDACTED); the incidents and the MARAC case bear on risk of harm (R-POLICE-DESK).",
        ),
        HEALTH: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "address",
                    "referral_details",
                    "identifier_nhs",
                    "domestic_abuse",
                    "health_summary",
                    "contact_education_attendance",
                    "education_attendance",
                }
            ),
            withheld(
                victim_safe_contact=redacted,
                police_incidents=deny,
                police_convictions=deny,
                identifier_pnc=deny,
                identifier_upn=deny,
            ),
            flags,
            why="The MARAC case bears on the children's health (R-HEALTH-DESK); one incident recorded "
            "against the victim and the suspect counts once towards repeat domestic abuse.",
            not_told=UNTOLD,
        ),
    }
