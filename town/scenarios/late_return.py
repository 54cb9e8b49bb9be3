"""Late police return: the MASH decides no further action on a school's referral. Then the school learns
that the mother's new partner has moved in; the MASH adds him to the case and asks the police, whose answer
(a conviction for domestic abuse, and an incident last week with the boy present) arrives after the
decision. It reaches the screening desk flagged late, so that the decision can be revisited; the other
desks get nothing of it.

The rule: a case is never "closed to information". A police or health return can land after a decision and
must reach the screening desk, marked as late, so that the decision can be revisited (DOMAIN "Stages,
outcomes and late information"). The agreement's purpose is LATE_INFORMATION, and only the screening
desk's rules serve it (R-CSC-LATE, R-CSC-KNOWN-CONTACT): after a decision no other desk has a new need to
know.
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
    gp,
    person,
    rel,
    withheld,
)

_HOME = Address(("9 Honiton Road",), "Exeter", "EX1 3EA", "100040208809")


def scenario(today: date, ids: Ids) -> Scenario:
    boy, mother, partner = _family(today, ids)
    held = [
        attendance(boy.key, today, "St Michael's Primary", 95.6, 1),
        gp(boy.key, today, "Heavitree Health Centre", 9),
        Held("police", mother.key, "police_incidents", _dispute(today), today - timedelta(days=700)),
        *_his_record(today, partner),
    ]
    household = Household(
        "late",
        [boy, mother, partner],
        [rel(boy.key, mother.key, "MOTHER", True), rel(boy.key, partner.key, "PARENTS_PARTNER", False)],
        held,
    )
    return Scenario(
        key="late-police-return",
        title="Late police return",
        story="A school refers a ten-year-old with a scratch on his neck; the explanation fits and no agency "
        "holds a concern, so the MASH decides no further action. Then the school hears that the mother's new "
        "partner has moved in; the MASH adds him and asks the police. Their answer, a domestic-abuse "
        "conviction and an incident with the boy present, arrives after the decision: it reaches the "
        "screening desk flagged late so the decision can be revisited (R-CSC-LATE); the other desks get "
        "nothing of it: late information is the decision makers' alone.",
        household=household,
        subjects=(ScenarioSubject("S1", boy.key, "CHILD"), ScenarioSubject("S2", mother.key, "PARENT")),
        concerns=("PHYSICAL_ABUSE",),
        source_type="SCHOOL",
        rag="AMBER",
        summary="Scratch to the side of his neck noticed at breakfast club. He said the cat did it, and his "
        "mother said the same when staff asked at pick-up.",
        referrer={
            "name": "Designated safeguarding lead",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": "St Michael's Primary",
        },
        assign=(CSC, POLICE, HEALTH),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "NO_FURTHER_ACTION",
                    "reason": "Explanation consistent with the injury; no agency holds a current concern",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "PHONE"},
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
                        "postcode": partner.address.postcode,
                    },
                    "reason": "The school reports that the mother's new partner has moved in",
                    "agencies": ["police"],
                },
                after_decision=True,
                enquiry_purpose="LATE_INFORMATION",
            ),
        ),
        expect=_expect(),
    )


def _family(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    boy = person(
        ids, "late.boy", "Ethan", "Vosper", born(today, 10, 140), "MALE", _HOME, {"education"}, school=True
    )
    mother = person(
        ids, "late.mother", "Claire", "Vosper", born(today, 34, 61), "FEMALE", _HOME, {"education", "police"}
    )
    partner = person(
        ids, "late.partner", "Shane", "Gilbert", born(today, 36, 222), "MALE", _HOME, {"police"}, police=True
    )
    return boy, mother, partner


def _dispute(today: date) -> dict[str, object]:
    return {
        "incident_ref": "DC-24-031177",
        "incident_date": today - timedelta(days=700),
        "incident_type": "Neighbour dispute",
        "subject_role": "REPORTING_PERSON",
        "child_present": False,
        "domestic_abuse": False,
        "summary": "Reported a neighbour's noise; words of advice given",
        "location_postcode": _HOME.postcode,
        "ppn_submitted": False,
    }


def _his_record(today: date, partner: Person) -> list[Held]:
    incident = {
        "incident_ref": "DC-26-122410",
        "incident_date": today - timedelta(days=6),
        "incident_type": "Domestic abuse",
        "subject_role": "SUSPECT",
        "child_present": True,
        "domestic_abuse": True,
        "summary": "Officers attended a domestic incident at the home at night; a boy was in the house",
        "location_postcode": _HOME.postcode,
        "ppn_submitted": True,
    }
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Assault by beating (domestic)",
        "offence_code": "CJ88116",
        "offence_category": "DOMESTIC_ABUSE",
        "offence_date": today - timedelta(days=900),
        "disposal_date": today - timedelta(days=860),
        "outcome": "Community order with a domestic abuse programme",
        "court": "Exeter Magistrates' Court",
        "spent": False,
    }
    return [
        Held("police", partner.key, "police_incidents", incident, today - timedelta(days=6), "ALLEGATION"),
        Held("police", partner.key, "police_convictions.disposals", conviction, today - timedelta(days=860)),
    ]


def _expect() -> dict[str, Expect]:
    deny, moot = SystemRule.DEFAULT_DENY, SystemRule.PURPOSE
    return {
        CSC: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "contact_education_attendance",
                    "identifier_nhs",
                    "address",
                    "referral_details",
                    "referrer_identity",
                    "police_incidents",
                    "police_convictions",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(identifier_upn=moot, identifier_pnc=deny),
            late=frozenset({"identity", "contact", "address", "police_incidents", "police_convictions"}),
            why="The screening desk gets the late return under LATE_INFORMATION (R-CSC-LATE), flagged late, "
            "to revisit its decision; not his PNC ID, which it holds only to act under s47 (R-ID-PNC-CSC). "
            "A return from before the decision serves no purpose after it (SYS-PURPOSE): the UPN, for "
            "education only (DfE), stays withheld.",
        ),
        POLICE: Expect(
            frozenset({"identity", "contact", "address", "referral_details", "police_incidents"}),
            withheld(
                identity=deny,
                contact=deny,
                identifier_pnc=deny,
                address=deny,
                police_incidents=deny,
                police_convictions=deny,
                referrer_identity=deny,
                identifier_nhs=moot,
                identifier_upn=moot,
                health_summary=moot,
                education_attendance=moot,
            ),
            why="At Amber it saw the mother's old police record (R-POLICE-DESK). Late information is the "
            "decision makers' alone (R-CSC-LATE, R-CSC-KNOWN-CONTACT): nothing of the late return, not even "
            "who he is, is released to it (DEFAULT-DENY), though it is the police's own; the returns from "
            "before the decision serve no purpose after it (SYS-PURPOSE).",
        ),
        HEALTH: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "contact_education_attendance",
                    "identifier_nhs",
                    "address",
                    "referral_details",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(
                identity=deny,
                contact=deny,
                address=deny,
                # The mother's old record (no purpose after the decision) and his late one (no rule).
                police_incidents=(deny, moot),
                police_convictions=deny,
                identifier_upn=moot,
                identifier_pnc=deny,
                referrer_identity=deny,
            ),
            why="Health findings and schooling at Amber (R-HEALTH-DESK); after the decision no rule of its "
            "own serves late information, so nothing of the late return reaches it (DEFAULT-DENY).",
            not_told=UNTOLD,
        ),
    }
