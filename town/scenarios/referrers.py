"""Professional and public referrers: who may know who referred.

A professional (a school, a GP, a health visitor, the police) cannot refer anonymously: children's social
care must know who referred, at every stage, and must tell the referrer the outcome. A professional may ask
that the family is not told who referred; that is an instruction about disclosure to the family, not to the
MASH. A member of the public's identity is protected by default (DOMAIN "Professional and public
referrers"; the policy's referrer_identity is redacted for a PUBLIC referrer only), and is released only to
the social worker leading a s47 enquiry, who may need to speak to them (R-CSC-REFERRER allow_redacted).
"""

from __future__ import annotations

from datetime import date, timedelta

from services.broker.policy import SystemRule
from town.model import Address, Held, Household
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

_GP_FAMILY = Address(("2 Lower Fore Street",), "Exmouth", "EX8 1HX", "100040090402")
_PUBLIC_FAMILY = Address(("16 Kingsley Avenue",), "Appledore", "EX39 1PQ", "100040004416")


def professional(today: date, ids: Ids) -> Scenario:
    """A GP refers at screening: children's social care knows the GP before any rating."""
    child = person(
        ids,
        "gpref.child",
        "Daisy",
        "Harvey",
        born(today, 6, 88),
        "FEMALE",
        _GP_FAMILY,
        {"education"},
        school=True,
    )
    father = person(ids, "gpref.father", "Scott", "Harvey", born(today, 37, 5), "MALE", _GP_FAMILY, set())
    held = [gp(child.key, today, "Rolle Medical Partnership", 6)]
    screening = {
        "referral_details": SystemRule.SCREENING,
        "referrer_identity": SystemRule.SCREENING,
        "address": SystemRule.SCREENING,
    }
    police = Expect(
        frozenset({"identity", "contact"}),
        withheld(**screening),
        why="At screening only known / not known and contact are shared with the desks (SYS-SCREENING); "
        "the school's answer, naming what it may not know, is never released to it (SYS-SCOPED-CONTACT).",
    )
    health = Expect(
        frozenset({"identity", "contact", "contact_education_attendance"}),
        withheld(**screening),
        why="At screening only known / not known and contact are shared with the desks (SYS-SCREENING).",
        not_told=UNTOLD,
    )
    return Scenario(
        key="professional-referrer",
        title="Professional referrer",
        story="A GP calls about a six-year-old losing weight, before anyone has rated the contact, and asks "
        "that the family is not told who referred. Children's social care knows the GP and reads the "
        "concern at screening (R-CSC-REFERRER, R-CSC-SCREEN): a professional cannot refer anonymously. "
        "The family-facing anonymity is recorded, not applied to the MASH.",
        household=Household("gpref", [child, father], [rel(child.key, father.key, "FATHER", True)], held),
        subjects=(ScenarioSubject("S1", child.key, "CHILD"), ScenarioSubject("S2", father.key, "PARENT")),
        concerns=("NEGLECT",),
        source_type="GP",
        rag="UNKNOWN",
        summary="Weight has dropped from the 50th to the 9th centile in a year. Father missed the last two "
        "appointments and seemed irritated when asked about meals.",
        referrer={
            "name": "Dr Priya Nair",
            "relationship_to_child": "GP",
            "is_professional": True,
            "organisation": "Rolle Medical Partnership",
            "phone": "01632 960871",
        },
        referrer_anonymity_from_family=True,
        parents_aware=False,
        assign=(CSC, POLICE, HEALTH),
        purpose="SCREENING",
        expect={
            CSC: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "contact_education_attendance",
                        "referral_details",
                        "referrer_identity",
                    }
                ),
                withheld(address=SystemRule.SCREENING),
                why="It must rate a contact it can read (R-CSC-SCREEN) and know the professional who made "
                "it (R-CSC-REFERRER); nothing else before a rating (SYS-SCREENING).",
            ),
            POLICE: police,
            HEALTH: health,
        },
        extra_sensitive=("Priya Nair", "01632 960871"),
    )


def public(today: date, ids: Ids) -> Scenario:
    """A neighbour who asks not to be named: protected from every desk, known only to the s47 enquiry."""
    child = person(
        ids,
        "pubref.child",
        "Lacey",
        "Gould",
        born(today, 7, 12),
        "FEMALE",
        _PUBLIC_FAMILY,
        {"education"},
        school=True,
    )
    father = person(
        ids,
        "pubref.father",
        "Wayne",
        "Gould",
        born(today, 40, 222),
        "MALE",
        _PUBLIC_FAMILY,
        {"police"},
        police=True,
    )
    conviction = {
        "disposal_type": "CONVICTION",
        "offence": "Assault by beating",
        "offence_code": "CJ88116",
        "offence_category": "VIOLENCE",
        "offence_date": today - timedelta(days=1500),
        "disposal_date": today - timedelta(days=1450),
        "outcome": "Fine and compensation",
        "court": "Barnstaple Magistrates' Court",
        "spent": False,
    }
    held = [
        Held("police", father.key, "police_convictions.disposals", conviction, today - timedelta(days=1450)),
        gp(child.key, today, "Northam Surgery", 7),
        attendance(child.key, today, "Appledore Primary", 92.0, 3),
    ]
    return Scenario(
        key="public-referrer",
        title="Public referrer, s47",
        story="A neighbour, asking not to be named, saw a man hit a seven-year-old in the garden. The MASH "
        "decides on a strategy discussion and s47 enquiry: the social worker leading it now knows who "
        "called (R-CSC-REFERRER, allow_redacted for s47); the police and health desks never do "
        "(SYS-REDACTED).",
        household=Household("pubref", [child, father], [rel(child.key, father.key, "FATHER", True)], held),
        subjects=(
            ScenarioSubject("S1", child.key, "CHILD"),
            ScenarioSubject("S2", father.key, "PARENT", ids=("pnc",)),
        ),
        concerns=("PHYSICAL_ABUSE",),
        source_type="PUBLIC",
        rag="RED",
        summary="Saw a man slap a young girl hard across the head twice in the back garden; she was crying "
        "and he dragged her inside by the arm.",
        referrer={
            "name": "Brian Lethbridge",
            "relationship_to_child": "Neighbour",
            "is_professional": False,
            "phone": "07700 900213",
            "wishes_anonymity": True,
        },
        referrer_type="PUBLIC",
        assign=(CSC, POLICE, HEALTH),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "STRATEGY_DISCUSSION_S47",
                    "reason": "A witnessed assault on the child by a parent with a conviction for violence",
                    "decided_by": "MASH team manager",
                },
            ),
        ),
        expect=_public_expect(),
        extra_sensitive=("Brian Lethbridge", "Lethbridge", "07700 900213"),
    )


def _public_expect() -> dict[str, Expect]:
    deny, redacted = SystemRule.DEFAULT_DENY, SystemRule.REDACTED
    shared = {"identity", "contact", "address", "referral_details", "health_summary"}
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
            why="The s47 enquiry may need to speak to the caller: the redaction is lifted for it alone "
            "(R-CSC-REFERRER allow_redacted [STRATEGY_DISCUSSION, S47_ENQUIRY]).",
        ),
        POLICE: Expect(
            frozenset(shared | {"identifier_pnc", "police_convictions"}),
            withheld(
                referrer_identity=redacted,
                identifier_nhs=deny,
                identifier_upn=deny,
                education_attendance=deny,
            ),
            why="A member of the public's identity is protected (SYS-REDACTED); health findings under s47 "
            "(R-POLICE-S47-HEALTH).",
        ),
        HEALTH: Expect(
            frozenset(shared | {"identifier_nhs", "education_attendance", "contact_education_attendance"}),
            withheld(
                referrer_identity=redacted,
                identifier_upn=deny,
                identifier_pnc=deny,
                police_convictions=deny,
            ),
            why="A member of the public's identity is protected (SYS-REDACTED).",
            not_told=UNTOLD,
        ),
    }
