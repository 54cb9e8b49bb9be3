"""Early help, a young person's own say: a mother agrees to early help for the family; her fifteen-year-old
daughter, judged Gillick-competent, refuses it for herself. The partner hub gets what the support plan needs
about the mother and her son, nothing about the daughter beyond who she is and whom to call.

The rules: consent belongs to a person, not a referral; a Gillick-competent young person (judged case by
case, not by age) can consent or refuse for themselves, and a refusal is recorded against that person
(DOMAIN "Consent, per person"). Early help is voluntary and needs the agreement of the person the data is
about (purpose EARLY_HELP, consent REQUIRED; SYS-CONSENT-REFUSED).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from services.broker.policy import SystemRule
from town.model import Address, Held, Household
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

_HOME = Address(("63 Mount Pleasant Road",), "Exeter", "EX4 7AD", "100040215563")


def _consent(kind: str, ref: str, party: str, reason: str, **more: Any) -> Step:
    return Step(
        "consent",
        {
            "kind": kind,
            "scope": "EARLY_HELP_SERVICE",
            "subject_ref": ref,
            "party": party,
            "family_informed": True,
            "reason": reason,
            **more,
        },
    )


def _household(today: date, ids: Ids) -> Household:
    son = person(
        ids, "yp.son", "Oscar", "Penny", born(today, 9, 70), "MALE", _HOME, {"education"}, school=True
    )
    daughter = person(
        ids,
        "yp.daughter",
        "Megan",
        "Penny",
        born(today, 15, 190),
        "FEMALE",
        _HOME,
        {"education"},
        school=True,
    )
    mother = person(
        ids, "yp.mother", "Rachel", "Penny", born(today, 41, 30), "FEMALE", _HOME, {"education", "housing"}
    )
    tenancy = {
        "tenure_type": "ASSURED",
        "tenancy_start": today - timedelta(days=2000),
        "tenancy_end": None,
        "landlord": "Sanctuary Housing",
        "lead_tenant": True,
        "postcode": _HOME.postcode,
        "uprn": _HOME.uprn,
        "household_size": 3,
        "arrears_pence": 64000,
        "arrears_status": "ARRANGEMENT_IN_PLACE",
        "property_flags": [],
    }
    held = [
        attendance(son.key, today, "Ladysmith Junior School", 91.0, 6),
        attendance(daughter.key, today, "St James School", 78.2, 26),
        contact("education", daughter.key, today, "St James School pastoral team", "01632 960061", True),
        Held("housing", mother.key, "housing.tenancies", tenancy, today - timedelta(days=8)),
    ]
    return Household(
        "yp",
        [son, daughter, mother],
        [rel(son.key, mother.key, "MOTHER", True), rel(daughter.key, mother.key, "MOTHER", True)],
        held,
    )


def scenario(today: date, ids: Ids) -> Scenario:
    household = _household(today, ids)
    son, daughter, mother = (p.key for p in household.people)
    return Scenario(
        key="young-person-refuses",
        title="Early help, a young person refuses",
        story="The school refers a nine-year-old who arrives hungry and his fifteen-year-old sister, whose "
        "attendance has fallen. The MASH decides early help; the mother agrees, and the daughter, judged "
        "Gillick-competent, refuses for herself. The partner hub gets what the plan needs about the mother "
        "and son, not the daughter's records (SYS-CONSENT-REFUSED): her own say decides what is about her. "
        "Her refusal is recorded before her mother's agreement: a release is never taken back, so an "
        "agreement recorded first would already have opened the sections about her.",
        household=household,
        subjects=(
            ScenarioSubject("S1", son, "CHILD"),
            ScenarioSubject("S2", daughter, "SIBLING"),
            ScenarioSubject("S3", mother, "PARENT"),
        ),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Oscar often arrives hungry and tired. His sister Megan's attendance has fallen sharply this "
        "term; she says she looks after him in the mornings.",
        referrer={
            "name": "Designated safeguarding lead",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": "Ladysmith Junior School",
        },
        assign=(CSC, PARTNER),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "EARLY_HELP",
                    "reason": "Needs are below the statutory threshold; a family support plan will do",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "SECURE_PORTAL"},
                },
            ),
            _consent(
                "CONSENT_REFUSED",
                "S2",
                "YOUNG_PERSON",
                "Young person declined support for herself",
                gillick_competent=True,
            ),
            _consent("CONSENT_GIVEN", "S3", "PARENT_WITH_PR", "Mother agreed to a family support plan"),
        ),
        expect=_expect(),
    )


def _expect() -> dict[str, Expect]:
    deny, refused = SystemRule.DEFAULT_DENY, SystemRule.CONSENT_REFUSED
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
            frozenset(plan | {"identifier_nhs", "identifier_local", "referrer_identity", "case_notes"}),
            withheld(identifier_upn=deny),
            why="It saw the Green picture (R-CSC-GREEN); the daughter's refusal closes early help, not what "
            "the decision makers already hold.",
        ),
        PARTNER: Expect(
            # Who each person is and whom to call were shared before the decision (R-KNOWN-CONTACT).
            frozenset(plan),
            withheld(
                address=refused,
                education_attendance=refused,
                contact_education_attendance=refused,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            why="The mother's agreement opens early help for her and her son; the daughter's own refusal "
            "decides the sections about her (SYS-CONSENT-REFUSED), her school's screening answer too.",
            not_told=UNTOLD,
        ),
    }
