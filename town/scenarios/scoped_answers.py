"""Scoped screening answers and identifiers: a mother known to a drug and alcohol service and to probation.
Each desk learns from "known / not known + contact" only what it may know of that agency's involvement, and
each identifier scheme goes only to the desks whose work it is.

The rules: "known + contact" is itself a disclosure; a team's or service's name (a drug and alcohol service,
a probation unit) reveals what its data would, so a desk refused a category must not learn its fact from a
screening answer (DOMAIN "Who a screening answer may tell what"; SYS-SCOPED-CONTACT). The NHS number is for
health and care; the UPN is for education use only (DfE UPN guidance); the PNC ID is for police and
probation, and for children's social care where it must act (R-ID-NHS, R-ID-PNC-POLICE, R-ID-PNC-CSC).
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
    contact,
    person,
    rel,
    withheld,
)

_HOME = Address(("11 Gloucester Road",), "Exeter", "EX4 2EF", "100040226611")


def scenario(today: date, ids: Ids) -> Scenario:
    child, baby, mother = _family(today, ids)
    household = Household(
        "tapp",
        [child, baby, mother],
        [rel(child.key, mother.key, "MOTHER", True), rel(baby.key, mother.key, "MOTHER", True)],
        [*_mother(today, mother), *_children(today, child, baby)],
    )
    return Scenario(
        key="scoped-answers",
        title="Scoped screening answers",
        story="A health visitor refers a mother on a methadone programme and a community order, with a "
        "six-year-old and a baby. Each desk learns from the screening answers only what it may know: the "
        "police desk learns of probation, not of the drug service, whose answer is never released to it "
        "(SYS-SCOPED-CONTACT); the health desk of the drug service, and not even that probation answered, "
        "since probation's originator control keeps its fact from it; the partner hub of neither. The UPN "
        "goes to no desk; the PNC ID to the police desk alone.",
        household=household,
        subjects=(
            ScenarioSubject("S1", child.key, "CHILD"),
            ScenarioSubject("S2", baby.key, "SIBLING"),
            ScenarioSubject("S3", mother.key, "PARENT"),
        ),
        concerns=("NEGLECT", "PARENTAL_SUBSTANCE_MISUSE"),
        source_type="HEALTH_VISITOR",
        rag="AMBER",
        summary="Home conditions poor on two visits; mother drowsy and slurring at the last one. The baby's "
        "weight has dropped. Mother says she is stable on her script.",
        referrer={
            "name": "Health visitor",
            "relationship_to_child": "Health visitor",
            "is_professional": True,
            "organisation": "Exeter health visiting team",
        },
        assign=(CSC, POLICE, HEALTH, PARTNER),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "EARLY_HELP",
                    "reason": "Mother engaged with treatment and probation; family support plan agreed",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "EMAIL"},
                },
            ),
            Step(
                "consent",
                {
                    "kind": "CONSENT_GIVEN",
                    "scope": "EARLY_HELP_SERVICE",
                    "subject_ref": "S3",
                    "party": "PARENT_WITH_PR",
                    "family_informed": True,
                    "reason": "Mother agreed to a family support plan",
                },
            ),
        ),
        expect=_expect(),
    )


def _family(today: date, ids: Ids) -> tuple[Person, Person, Person]:
    child = person(
        ids, "tapp.child", "Riley", "Tapp", born(today, 6, 15), "MALE", _HOME, {"education"}, school=True
    )
    baby = person(ids, "tapp.baby", "Poppy", "Tapp", born(today, 1, 40), "FEMALE", _HOME, set())
    mother = person(
        ids, "tapp.mother", "Kayleigh", "Tapp", born(today, 28, 120), "FEMALE", _HOME,
        {"police", "probation", "education"}, police=True,
    )  # fmt: skip
    return child, baby, mother


def _mother(today: date, mother: Person) -> list[Held]:
    treatment = {
        "service": "OTHER",
        "engagement": "ENGAGED",
        "diagnosis_summary": "Opiate dependence; on a methadone programme",
        "open_date": today - timedelta(days=420),
        "discharge_date": None,
        "care_coordinator_role": "Drug and alcohol recovery worker",
        "risk_to_self": False,
        "risk_to_others": False,
        "risk_notes": "Two lapses this year",
    }
    order = {
        "mappa_category": None,
        "mappa_level": None,
        "custody_status": "COMMUNITY_ORDER",
        "release_date": None,
        "sentence_end_date": today + timedelta(days=200),
        "offence_type": "Theft from a shop",
        "registered_sex_offender": False,
        "rosh_level": "LOW",
        "rosh_to_children": "LOW",
        "licence_conditions": ["Drug rehabilitation requirement", "Attend all supervision appointments"],
        "approved_premises": None,
        "exclusion_zones": [],
        "offender_manager_role": "Probation officer",
    }
    theft = {
        "disposal_type": "CONVICTION",
        "offence": "Theft from a shop",
        "offence_code": "TH68026",
        "offence_category": "ACQUISITIVE",
        "offence_date": today - timedelta(days=300),
        "disposal_date": today - timedelta(days=260),
        "outcome": "Community order with a drug rehabilitation requirement",
        "court": "Exeter Magistrates' Court",
        "spent": False,
    }
    return [
        Held("health", mother.key, "mental_health.episodes", treatment, today - timedelta(days=30)),
        contact("health", mother.key, today, "Exeter drug and alcohol service", "01632 960066", True),
        Held("probation", mother.key, "probation", order, today - timedelta(days=20)),
        contact("probation", mother.key, today, "Exeter probation delivery unit", "01632 960020", True),
        Held("police", mother.key, "police_convictions.disposals", theft, today - timedelta(days=260)),
    ]


def _children(today: date, child: Person, baby: Person) -> list[Held]:
    weight = {
        "service": "HEALTH_VISITING",
        "contact_date": today - timedelta(days=6),
        "contact_type": "Targeted home visit",
        "attendance": "ATTENDED",
        "concerns": "Weight dropped from the 50th to the 25th centile; home cold and cluttered",
    }
    return [
        attendance(child.key, today, "Montgomery Primary", 89.0, 9),
        Held("health", baby.key, "health_summary.community_contacts", weight, today - timedelta(days=6)),
    ]


def _expect() -> dict[str, Expect]:
    deny = SystemRule.DEFAULT_DENY
    plan = {"identity", "contact", "contact_education_attendance", "address", "referral_details"}
    return {
        CSC: _front_door(plan),
        POLICE: Expect(
            frozenset(
                plan - {"contact_education_attendance"}
                | {"contact_probation", "identifier_pnc", "police_convictions", "probation"}
            ),
            withheld(
                mental_health=deny,
                health_summary=deny,
                education_attendance=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_local=deny,
                referrer_identity=deny,
            ),
            why="It may know probation (R-POLICE-DESK), so probation's answer; not mental health, so not the "
            "drug service's name (never released, audited as SYS-SCOPED-CONTACT). The PNC ID is the "
            "police's (R-ID-PNC-POLICE).",
        ),
        HEALTH: Expect(
            frozenset(
                plan
                | {
                    "contact_mental_health",
                    "identifier_nhs",
                    "mental_health",
                    "health_summary",
                    "education_attendance",
                }
            ),
            withheld(
                police_convictions=deny,
                identifier_upn=deny,
                identifier_pnc=deny,
                referrer_identity=deny,
            ),
            why="Probation's originator control keeps probation from it (audited as SYS-ORIGINATOR), and "
            "being known to probation is probation's fact: it is not told that probation answered at all. "
            "The drug service is health's to know (R-HEALTH-DESK), and so its name.",
            not_told=UNTOLD,
        ),
        PARTNER: Expect(
            frozenset(plan | {"education_attendance"}),
            withheld(
                mental_health=deny,
                health_summary=deny,
                police_convictions=deny,
                referrer_identity=deny,
                identifier_nhs=deny,
                identifier_upn=deny,
                identifier_pnc=deny,
            ),
            why="With the mother's agreement it gets what the plan needs (R-EARLY-HELP); it may know neither "
            "the drug service (never released, audited as SYS-SCOPED-CONTACT) nor probation, which it is "
            "not told answered at all.",
            not_told=UNTOLD,
        ),
    }


def _front_door(plan: set[str]) -> Expect:
    deny = SystemRule.DEFAULT_DENY
    return Expect(
        frozenset(
            plan
            | {
                "case_notes",
                "contact_mental_health",
                "contact_probation",
                "identifier_nhs",
                "identifier_local",
                "referrer_identity",
                "police_convictions",
                "probation",
                "mental_health",
                "health_summary",
                "education_attendance",
            }
        ),
        withheld(identifier_upn=deny, identifier_pnc=deny),
        why="The decision makers may know every fact (R-CSC-FULL), so every screening answer; the PNC ID "
        "only when they must act under s47 (R-ID-PNC-CSC), the UPN never (DfE).",
    )
