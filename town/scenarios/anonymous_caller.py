"""Anonymous caller: a neighbour, asking not to be named, reports a five-year-old left alone one evening.
Only screening checks run (known / not known and contact), and the caller stays protected."""

from __future__ import annotations

from datetime import date

from services.broker.policy import SystemRule
from town.model import Address, Household
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

_HOME = Address(("3 Orchard Way",), "Cullompton", "EX15 1EZ", "100040622003")


def scenario(today: date, ids: Ids) -> Scenario:
    mother = person(
        ids, "anon.mother", "Hannah", "Luscombe", born(today, 24, 33), "FEMALE", _HOME, {"education"}
    )
    child = person(
        ids,
        "anon.child",
        "Freya",
        "Luscombe",
        born(today, 5, 260),
        "FEMALE",
        _HOME,
        {"education"},
        school=True,
    )
    held = [
        gp(child.key, today, "College Surgery", 5),
        contact("education", child.key, today, "St Andrew's Primary office", "01884 33166", False),
        attendance(child.key, today, "St Andrew's Primary", 97.0, 0),
    ]
    # The school's screening answer names the school: for a desk that may know attendance.
    police = Expect(
        frozenset({"identity", "contact"}),
        withheld(
            referral_details=SystemRule.SCREENING,
            referrer_identity=SystemRule.REDACTED,
            address=SystemRule.SCREENING,
        ),
        why="For screening only known / not known and contact (SYS-SCREENING); an answer naming what it "
        "may not know (the school) is never released to it (audited as SYS-SCOPED-CONTACT); the caller "
        "is protected (SYS-REDACTED).",
    )
    health = Expect(
        frozenset({"identity", "contact", "contact_education_attendance"}),
        withheld(
            referral_details=SystemRule.SCREENING,
            referrer_identity=SystemRule.REDACTED,
            address=SystemRule.SCREENING,
        ),
        why="For screening only known / not known and contact (SYS-SCREENING); the caller is protected "
        "(SYS-REDACTED).",
        not_told=UNTOLD,
    )
    front_door = Expect(
        frozenset({"identity", "contact", "contact_education_attendance", "referral_details"}),
        withheld(referrer_identity=SystemRule.REDACTED, address=SystemRule.SCREENING),
        why="The decision makers read the contact they must rate (R-CSC-SCREEN), but a member of the "
        "public's identity stays protected until a s47 enquiry (SYS-REDACTED).",
    )
    return Scenario(
        key="anonymous-caller",
        title="Anonymous caller",
        story="A neighbour calls, asking not to be named: a five-year-old was left alone one evening. "
        "Only screening checks run (known / not known and contact); children's social care reads the "
        "concern it must rate, and the caller stays protected.",
        household=Household("anon", [mother, child], [rel(child.key, mother.key, "MOTHER", True)], held),
        subjects=(ScenarioSubject("S1", child.key, "CHILD"), ScenarioSubject("S2", mother.key, "PARENT")),
        concerns=("NEGLECT",),
        source_type="PUBLIC",
        rag="UNKNOWN",
        summary="Caller heard a young child crying alone in the house for about an hour one evening last "
        "week. Has not seen it happen again.",
        referrer={
            "name": "Margaret Venning",
            "relationship_to_child": "Neighbour",
            "is_professional": False,
            "phone": "07700 900877",
            "wishes_anonymity": True,
        },
        assign=(CSC, POLICE, HEALTH),
        purpose="SCREENING",
        expect={CSC: front_door, POLICE: police, HEALTH: health},
        extra_sensitive=("Margaret Venning", "Venning", "07700 900877"),
    )
