"""Early help, agreed and refused: persistent absence, missed health-visitor appointments and rent arrears.
The MASH decides early help; in one family the parent agrees and the partner hub gets what the support
plan needs, in the other the parent declines and the partner hub gets nothing beyond known / not known.

GREEN: csc sees under R-CSC-GREEN while triaging; the partner hub only once early help is agreed
(EARLY_HELP needs the family's agreement: R-EARLY-HELP, consent REQUIRED). The school is a professional
referrer, known to children's social care (R-CSC-REFERRER) and to no other desk.

The rules the refusal shows: early help is voluntary, so a safeguarding override never opens it (rising risk
means a new outcome, not data for the early-help hub: DOMAIN "Consent, per person"; SYS-CONSENT-REFUSED
stands); and a decided case is never closed to information: what the police return afterwards about a new
household member reaches the screening desk, flagged late (LATE_INFORMATION, R-CSC-LATE).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Person, Relationship
from town.scenarios.common import (
    CSC,
    PARTNER,
    UNTOLD,
    Expect,
    Ids,
    Scenario,
    ScenarioSubject,
    Step,
    attendance,
    born,
    contact,
    person,
    rel,
    withheld,
)

Sex = Literal["MALE", "FEMALE"]


def _referrer() -> dict[str, Any]:
    return {
        "name": "Designated safeguarding lead",
        "relationship_to_child": "School",
        "is_professional": True,
        "organisation": "Barley Lane School",
    }


def _decision(reason: str) -> Step:
    return Step(
        "decision",
        {
            "outcome": "EARLY_HELP",
            "reason": reason,
            "decided_by": "MASH team manager",
            "referrer_feedback": {"given": True, "method": "SECURE_PORTAL"},
        },
    )


def _consent(kind: str, reason: str) -> Step:
    return Step(
        "consent",
        {
            "kind": kind,
            "scope": "EARLY_HELP_SERVICE",
            "family_informed": True,
            "decided_by": "Early help coordinator",
            "reason": reason,
        },
    )


def agreed(today: date, ids: Ids) -> Scenario:
    home = Address(("5 Beacon Heath",), "Exeter", "EX4 8NP", "100040256605")
    people, rels, held = _family(
        today, ids, "eh", ("Chloe", "Hext", "FEMALE"), ("Mason", "MALE", 8), home, "Ava"
    )
    return Scenario(
        key="early-help",
        title="Early help",
        story="Persistent absence and hunger at school, missed health-visitor appointments and rent "
        "arrears. The MASH decides early help; the family agrees, and the partner hub gets what the "
        "support plan needs.",
        household=Household("eh", people, rels, held),
        subjects=(
            ScenarioSubject("S1", "eh.child", "CHILD"),
            ScenarioSubject("S2", "eh.baby", "SIBLING"),
            ScenarioSubject("S3", "eh.parent", "PARENT"),
        ),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Attendance has fallen this term and he often arrives hungry. Mum says money is tight and "
        "she is struggling with the baby.",
        referrer=_referrer(),
        assign=(CSC, PARTNER),
        steps=(
            _decision(
                "Needs are below the threshold for statutory services; a family support plan is proportionate"
            ),
            _consent("CONSENT_GIVEN", "Parent agreed to a family support plan"),
        ),
        expect=_agreed_expect(),
    )


def refused(today: date, ids: Ids) -> Scenario:
    home = Address(("12 Sherwell Valley Road",), "Torquay", "TQ2 6EJ", "100040543312")
    people, rels, held = _family(
        today, ids, "ehr", ("Daniel", "Yeo", "MALE"), ("Ruby", "FEMALE", 10), home, None
    )
    partner = person(
        ids, "ehr.partner", "Kirsty", "Ball", born(today, 29, 64), "FEMALE", home, {"police"}, police=True
    )
    people.append(partner)
    rels.append(rel("ehr.child", partner.key, "PARENTS_PARTNER", False))
    held.append(
        Held(
            "police",
            partner.key,
            "police_convictions.disposals",
            _caution(today),
            today - timedelta(days=1100),
        )
    )
    return Scenario(
        key="early-help-refused",
        title="Early help, refused",
        story="The same needs, but the father declines early help. The refusal is respected: the partner hub "
        "receives nothing beyond known / not known (SYS-CONSENT-REFUSED), even after the MASH records a "
        "safeguarding override, which never opens early help. Then the father's new partner moves in; the "
        "MASH adds her and asks the police, whose answer (a caution for child cruelty) reaches children's "
        "social care flagged late (R-CSC-LATE): declining early help does not close the case to information.",
        household=Household("ehr", people, rels, held),
        subjects=(ScenarioSubject("S1", "ehr.child", "CHILD"), ScenarioSubject("S2", "ehr.parent", "PARENT")),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Persistent absence and the child says there is often no food at home. Rent arrears "
        "letters seen by staff.",
        referrer=_referrer(),
        assign=(CSC, PARTNER),
        steps=(
            _decision("Needs are below the threshold for statutory services; early help offered"),
            _consent("CONSENT_REFUSED", "Parent declined early help support"),
            Step(
                "consent",
                {
                    "kind": "SAFEGUARDING_OVERRIDE",
                    "scope": "DATA_SHARING",
                    "ground": "WOULD_PREJUDICE_PROTECTION",
                    "family_informed": True,
                    "reason": "Concerns persist; sharing with the statutory partners without consent",
                },
            ),
            Step(
                "subjects",
                {
                    "subject": {
                        "subject_ref": "S3",
                        "role": "HOUSEHOLD_MEMBER",
                        "given_names": partner.given_names,
                        "family_name": partner.family_name,
                        "dob": partner.dob.isoformat(),
                        "postcode": home.postcode,
                    },
                    "reason": "The school reports that the father's new partner has moved in",
                    "agencies": ["police"],
                },
                after_decision=True,
                enquiry_purpose="EARLY_HELP",
            ),
        ),
        expect=_refused_expect(),
    )


def _family(
    today: date,
    ids: Ids,
    key: str,
    parent: tuple[str, str, Sex],
    child: tuple[str, Sex, int],
    home: Address,
    baby: str | None,
) -> tuple[list[Person], list[Relationship], list[Held]]:
    p = person(
        ids,
        f"{key}.parent",
        parent[0],
        parent[1],
        born(today, 31, 90),
        parent[2],
        home,
        {"housing", "education"},
    )
    c = person(
        ids,
        f"{key}.child",
        child[0],
        parent[1],
        born(today, child[2], 20),
        child[1],
        home,
        {"education"},
        school=True,
    )
    people, rels = [p, c], [rel(c.key, p.key, "MOTHER" if parent[2] == "FEMALE" else "FATHER", True)]
    held = _school_and_housing(today, c, p, home, 3 if baby else 2)
    if baby:
        b = person(ids, f"{key}.baby", baby, parent[1], born(today, 1, 100), "FEMALE", home, set())
        people.append(b)
        rels.append(rel(b.key, p.key, "MOTHER", True))
        held += _missed_reviews(today, b)
    return people, rels, held


def _school_and_housing(today: date, child: Person, parent: Person, home: Address, size: int) -> list[Held]:
    tenancy = {
        "tenure_type": "ASSURED",
        "tenancy_start": today - timedelta(days=900),
        "tenancy_end": None,
        "landlord": "LiveWest",
        "lead_tenant": True,
        "postcode": home.postcode,
        "uprn": home.uprn,
        "household_size": size,
        "arrears_pence": 126000,
        "arrears_status": "IN_ARREARS",
        "property_flags": ["DAMP_MOULD"],
    }
    return [
        attendance(child.key, today, "Barley Lane School", 84.1, 19),
        contact("education", child.key, today, "Barley Lane pastoral team", "01392 255000", True),
        Held("housing", parent.key, "housing.tenancies", tenancy, today - timedelta(days=5)),
        contact("housing", parent.key, today, "LiveWest income team", "0800 145 6000", True),
    ]


def _caution(today: date) -> dict[str, object]:
    return {
        "disposal_type": "CAUTION",
        "offence": "Child cruelty (neglect)",
        "offence_code": "CH01001",
        "offence_category": "CHILD_RELATED",
        "offence_date": today - timedelta(days=1150),
        "disposal_date": today - timedelta(days=1100),
        "outcome": "Adult caution",
        "court": None,
        "spent": False,
    }


def _missed_reviews(today: date, baby: Person) -> list[Held]:
    return [
        Held(
            "health",
            baby.key,
            "health_summary.community_contacts",
            {
                "service": "HEALTH_VISITING",
                "contact_date": today - timedelta(days=d),
                "contact_type": kind,
                "attendance": "WAS_NOT_BROUGHT",
                "concerns": None,
            },
            today - timedelta(days=d),
        )
        for d, kind in ((70, "1-year review"), (28, "Rearranged 1-year review"))
    ]


def _agreed_expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    plan = {
        "identity",
        "contact",
        "contact_education_attendance",
        "address",
        "referral_details",
        "education_attendance",
        "housing",
    }
    return {
        CSC: Expect(
            # The consent record's reasons are case notes, for the decision makers (R-CSC-CASE-NOTES).
            frozenset(
                plan
                | {"identifier_nhs", "identifier_local", "referrer_identity", "health_summary", "case_notes"}
            ),
            withheld(identifier_upn=deny),
            why="The Green picture (R-CSC-GREEN), with the NHS number and local ids (R-ID-NHS, R-ID-LOCAL) "
            "and the school that referred (R-CSC-REFERRER); the UPN is for education use only (DfE).",
        ),
        PARTNER: Expect(
            frozenset(plan),
            withheld(
                health_summary=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            why="With the family's agreement, what the support plan needs (R-EARLY-HELP), the school's "
            "screening answer among it (it may know attendance now): never health data, nor any identifier.",
            not_told=UNTOLD,
        ),
    }


def _refused_expect() -> dict[str, Expect]:
    deny, refused = SystemRule.DEFAULT_DENY, SystemRule.CONSENT_REFUSED
    known = frozenset({"identity", "contact"})
    return {
        CSC: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "contact_education_attendance",
                    "address",
                    "referral_details",
                    "education_attendance",
                    "housing",
                    "identifier_nhs",
                    "identifier_local",
                    "referrer_identity",
                    "police_convictions",
                    "case_notes",
                }
            ),
            withheld(identifier_upn=deny, identifier_pnc=deny),
            late=known | {"address", "police_convictions"},
            why="The refusal closes early help, not the decision makers' late information (R-CSC-LATE): the "
            "new partner's police record reaches them flagged late. Her PNC ID only for s47 (R-ID-PNC-CSC).",
        ),
        PARTNER: Expect(
            known,
            withheld(
                # The new partner's, which arrived after the family declined.
                identity=refused,
                contact=refused,
                referral_details=refused,
                education_attendance=refused,
                contact_education_attendance=refused,
                housing=refused,
                address=refused,
                police_convictions=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_pnc=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            why="The family declined: nothing beyond known / not known from before the decision "
            "(SYS-CONSENT-REFUSED), not even who the new partner is, and the override does not change that: "
            "an override never opens early help.",
            not_told=UNTOLD,
        ),
    }
