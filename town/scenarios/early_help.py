"""Early help, agreed and refused: persistent absence, missed health-visitor appointments and rent arrears.
The MASH decides early help; in one family the parent agrees and the partner hub gets what the support
plan needs, in the other the parent declines and the partner hub gets nothing beyond known / not known.

GREEN: csc sees under R-CSC-GREEN while triaging; the partner hub only once early help is agreed. A
professional referrer is named to nobody here: only a s47 enquiry may need to speak to them.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from services.broker.policy import SystemRule
from town.model import Address, Held, Household, Person, Relationship
from town.scenarios.common import (
    CSC,
    PARTNER,
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
    return Scenario(
        key="early-help-refused",
        title="Early help, refused",
        story="The same needs, but the father declines early help. The refusal is recorded and respected: "
        "the partner hub receives nothing beyond known / not known.",
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
    redacted = SystemRule.REDACTED
    partner_sees = {"identity", "contact", "referral_details", "education_attendance", "housing"}
    return {
        CSC: Expect(frozenset(partner_sees | {"health_summary"}), withheld(referrer_identity=redacted)),
        PARTNER: Expect(
            frozenset(partner_sees),
            withheld(health_summary=SystemRule.DEFAULT_DENY, referrer_identity=redacted),
        ),
    }


def _refused_expect() -> dict[str, Expect]:
    agreed = _agreed_expect()
    refused = SystemRule.CONSENT_REFUSED
    return {
        CSC: Expect(agreed[CSC].sees - {"health_summary"}, agreed[CSC].withheld),
        PARTNER: Expect(
            frozenset({"identity", "contact"}),
            withheld(
                referral_details=refused,
                education_attendance=refused,
                housing=refused,
                referrer_identity=SystemRule.REDACTED,
            ),
        ),
    }
