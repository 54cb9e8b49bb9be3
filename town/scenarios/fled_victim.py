"""Fled to a refuge: a mother and her daughter have fled an abusive ex-partner to a refuge in another town.
Their new address, the temporary accommodation, the new GP and the new school would each locate them, and
the ex-partner has parental responsibility. The referral marks both as having a confidential address.

The rules: a refuge's address is confidential, and an address can also be found through temporary
accommodation, a postcode or property reference, a new GP registration or a new school; under a
confidential-address marker the locating details are withheld unless a rule lets a desk see them, and
children's social care usually does (DOMAIN "Victims who have fled"; SYS-CONFIDENTIAL-ADDRESS; R-CSC-S47
sets confidential_address). The victim's safe contact details are never released (MARAC and IDVA
practice; SYS-REDACTED).
"""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Kind, Person
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
    born,
    person,
    rel,
    withheld,
)

# Housing flags the refuge as confidential; health marks the mother and the girl themselves.
_REFUGE = Address(("Flat 2", "18 Blackboy Road"), "Exeter", "EX4 6SW", "100040199218", confidential=True)
_OLD_HOME = Address(("41 Sticklepath Hill",), "Barnstaple", "EX31 2BU", "100040012041")
_SCHOOL = "St Sidwell's CE Primary"
_ALLEGED: Kind = "ALLEGATION"


def scenario(today: date, ids: Ids) -> Scenario:
    girl, mother, ex = _people(today, ids)
    household = Household(
        "refuge",
        [girl, mother, ex],
        [
            rel(girl.key, mother.key, "MOTHER", True),
            rel(girl.key, ex.key, "FATHER", True, False),
            rel(mother.key, ex.key, "EX_PARTNER", None, False),
        ],
        [*_police(today, mother, ex), *_new_life(today, girl, mother)],
    )
    return Scenario(
        key="fled-victim",
        title="Fled to a refuge",
        story="A mother and her eight-year-old have fled to a refuge; the new school refers after the girl "
        "says her father hurt her mother. Both are marked as having a confidential address. Their address, "
        "the temporary accommodation, the new GP and the new school are withheld from the police and health "
        "desks (SYS-CONFIDENTIAL-ADDRESS) and released to children's social care under the marker "
        "(R-CSC-S47); the safe contact details go to no one (SYS-REDACTED). The school judges the risk "
        "immediate, so every enquiry is due in 4 working hours, though the contact is rated Amber.",
        household=household,
        subjects=(
            ScenarioSubject("S1", girl.key, "CHILD", confidential_address=True),
            ScenarioSubject("S2", mother.key, "PARENT", confidential_address=True),
            ScenarioSubject("S3", ex.key, "ALLEGED_PERPETRATOR", ids=("pnc",)),
        ),
        concerns=("DOMESTIC_ABUSE", "EMOTIONAL_ABUSE"),
        source_type="SCHOOL",
        rag="AMBER",
        # The father is looking for them: the referrer judges the risk immediate, so every enquiry gets
        # the most urgent timescale (4 working hours) although the contact is rated Amber.
        immediate_risk=True,
        child_voice="Dad hurt Mum. I don't want him to find us.",
        summary="Joined us two weeks ago from a refuge. Told her teacher that her dad hurt her mum and that "
        "she is scared he will find them. The family's address must not be given to the father.",
        referrer={
            "name": "Designated safeguarding lead",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": _SCHOOL,
        },
        assign=(CSC, POLICE, HEALTH),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "STRATEGY_DISCUSSION_S47",
                    "reason": "High-risk domestic abuse with the child exposed; the father seeks the family",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "SECURE_PORTAL"},
                },
            ),
        ),
        expect=_expect(),
    )


def _people(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    girl = person(
        ids,
        "refuge.girl",
        "Isla",
        "Brook",
        born(today, 8, 33),
        "FEMALE",
        _REFUGE,
        {"education"},
        school=True,
        confidential=True,
    )
    mother = person(
        ids,
        "refuge.mother",
        "Natalie",
        "Brook",
        born(today, 31, 97),
        "FEMALE",
        _REFUGE,
        {"police", "housing", "education"},
        confidential=True,
    )
    ex = person(
        ids, "refuge.ex", "Dean", "Sallis", born(today, 35, 180), "MALE", _OLD_HOME, {"police"}, police=True
    )
    return girl, mother, ex


def _police(today: date, mother: Person, ex: Person) -> list[Held]:
    case = {
        "subject_role": "VICTIM",
        "other_party_subject_ref": None,
        "dash_risk_level": "HIGH",
        "dash_score": 19,
        "dash_date": today - timedelta(days=24),
        "incident_count": 4,
        "latest_incident_date": today - timedelta(days=24),
        "children_present": True,
        "marac_referred": True,
        "marac_date": today - timedelta(days=10),
        "idva_allocated": True,
    }
    safe_contact = {
        "phone": "07700 900512",
        "address_lines": ["c/o the refuge office"],
        "postcode": _REFUGE.postcode,
        "safe_times": "Weekdays after 10:00",
        "contact_via": "IDVA",
        "notes": "Never leave a message",
    }
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Controlling or coercive behaviour",
        "offence_code": "CJ15076",
        "offence_category": "DOMESTIC_ABUSE",
        "offence_date": today - timedelta(days=800),
        "disposal_date": today - timedelta(days=700),
        "outcome": "Community order and a restraining order",
        "court": "Barnstaple Magistrates' Court",
        "spent": False,
    }
    return [
        Held("police", mother.key, "domestic_abuse.cases", case, today - timedelta(days=24)),
        Held("police", mother.key, "victim_safe_contact", safe_contact, today - timedelta(days=24)),
        Held(
            "police", mother.key, "police_incidents", _incident(today, "VICTIM"), today - timedelta(days=24)
        ),
        Held(
            "police",
            ex.key,
            "police_incidents",
            _incident(today, "SUSPECT"),
            today - timedelta(days=24),
            _ALLEGED,
        ),
        Held("police", ex.key, "police_convictions.disposals", conviction, today - timedelta(days=700)),
    ]


def _incident(today: date, role: str) -> dict[str, object]:
    return {
        "incident_ref": "DC-26-117652",
        "incident_date": today - timedelta(days=24),
        "incident_type": "Domestic abuse",
        "subject_role": role,
        "child_present": True,
        "domestic_abuse": True,
        "summary": "Assault at the family home; the mother and child left for a refuge the next day",
        "location_postcode": _OLD_HOME.postcode,
        "ppn_submitted": True,
    }


def _new_life(today: date, girl: Person, mother: Person) -> list[Held]:
    """What locates them: a new GP, a new school, temporary accommodation."""
    moved = today - timedelta(days=16)
    gp_since = {
        "practice_name": "Southernhay House Surgery",
        "practice_code": "L83044",
        "registered_since": moved,
        "registered_until": None,
    }
    year = today.year if today.month >= 9 else today.year - 1
    school = {
        "school_name": _SCHOOL,
        "school_urn": "113207",
        "academic_year": f"{year}/{(year + 1) % 100:02d}",
        "attendance_percent": 90.0,
        "possible_sessions": 20,
        "unauthorised_absence_sessions": 0,
        "persistent_absence": False,
        "severe_absence": False,
        "children_missing_education": False,
        "elective_home_education": False,
        "on_roll_from": moved,
        "on_roll_to": None,
    }
    tenancy = {
        "tenure_type": "TEMPORARY_ACCOMMODATION",
        "tenancy_start": moved,
        "tenancy_end": None,
        "landlord": "Exeter City Council",
        "lead_tenant": True,
        "postcode": _REFUGE.postcode,
        "uprn": _REFUGE.uprn,
        "household_size": 2,
        "arrears_pence": 0,
        "arrears_status": "NONE",
        "property_flags": [],
    }
    return [
        Held("health", who, "health_summary.gp_registrations", gp_since, moved)
        for who in (girl.key, mother.key)
    ] + [
        Held("education", girl.key, "education_attendance.attendance", school, today - timedelta(days=2)),
        Held("housing", mother.key, "housing.tenancies", tenancy, moved),
    ]


def _expect() -> dict[str, Expect]:
    deny, hidden = SystemRule.DEFAULT_DENY, SystemRule.CONFIDENTIAL_ADDRESS
    redacted = SystemRule.REDACTED
    known = {"identity", "contact", "referral_details", "police_incidents", "domestic_abuse"}
    # Four incidents in the year with the child present (the MARAC case's own count).
    repeat = frozenset({"repeat_domestic_abuse_child_present"})
    return {
        CSC: Expect(
            frozenset(
                known
                | {
                    "contact_education_attendance",
                    "identifier_nhs",
                    "identifier_local",
                    "identifier_pnc",
                    "address",
                    "referrer_identity",
                    "police_convictions",
                    "health_summary",
                    "education_attendance",
                    "housing",
                }
            ),
            withheld(victim_safe_contact=redacted, identifier_upn=deny),
            repeat,
            why="Children's social care sees the locating details under the marker (R-CSC-S47 and "
            "R-CSC-KNOWN-CONTACT set confidential_address): it must be able to find and protect the child.",
        ),
        POLICE: Expect(
            # The address it sees is the father's: his is not marked.
            frozenset(known | {"identifier_pnc", "address", "police_convictions"}),
            withheld(
                address=hidden,
                contact=hidden,
                housing=hidden,
                health_summary=hidden,
                education_attendance=deny,
                victim_safe_contact=redacted,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            repeat,
            why="Under s47 its rules cover the address, housing and health findings, but none sets "
            "confidential_address: each locating detail of the mother and daughter is withheld "
            "(SYS-CONFIDENTIAL-ADDRESS). Schooling is no police rule's (DEFAULT-DENY), nor the school's name "
            "in its screening answer (never released to it, audited as SYS-SCOPED-CONTACT).",
        ),
        HEALTH: Expect(
            frozenset(
                {"identity", "contact", "identifier_nhs", "address", "referral_details", "domestic_abuse"}
            ),
            withheld(
                address=hidden,
                contact=hidden,
                health_summary=hidden,
                education_attendance=hidden,
                contact_education_attendance=hidden,
                housing=deny,
                police_incidents=deny,
                police_convictions=deny,
                victim_safe_contact=redacted,
                identifier_upn=deny,
                identifier_pnc=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            repeat,
            why="Even its own service's record of the new GP is withheld from the health desk under the "
            "marker (SYS-CONFIDENTIAL-ADDRESS): a desk's rule does not set confidential_address; so are "
            "their screening answers (a team's name and number can place a person), the school's among them. "
            "Whom to call about the father, who is not marked, it still learns.",
            not_told=UNTOLD,
        ),
    }
