"""Children's social care's records: contacts and referrals, child in need and child protection plans,
looked-after children and kinship care, and a child removed from a mother's care before. Parents and
carers become known as the children's."""

from __future__ import annotations

from datetime import date, timedelta

from town.households import Member
from town.story import Story

_SOURCES = {
    "Police": 30,
    "Schools": 25,
    "Health services": 20,
    "Individual": 10,
    "LA services": 10,
    "Anonymous": 5,
}


def social_care(story: Story, kids: list[Member], concern: str, severity: str) -> None:
    """Contacts to the front door and what became of them: advice, early help, a plan, or care."""
    team = f"{story.home.town.area} children's social work team"
    for kid in kids:
        first = story.ago(14, 4 * 365, after=kid.dob)
        story.add(
            "socialcare",
            kid,
            "social_care_history.contacts",
            first,
            contact_date=first,
            contact_type="CONTACT",
            contact_source=story.pick(_SOURCES),
            primary_concern=concern,
            outcome={
                "low": "Information and advice",
                "medium": "Progressed to referral",
                "high": "Strategy discussion",
            }[severity],
        )
        if severity == "low":
            involvement, open_case = "EARLY_HELP", story.chance(0.3)
        else:
            involvement, open_case = _referral(story, kid, first, concern, severity)
        story.add(
            "socialcare",
            kid,
            "social_care_history.current_status",
            story.today,
            case_open=open_case,
            allocated_social_worker=open_case and involvement != "EARLY_HELP",
            involvement=involvement if open_case else "NONE",
            team=team if open_case else None,
        )
    for adult in story.adults():
        if adult.parent:
            adult.known.add("socialcare")  # recorded as the children's parents and carers


def _referral(story: Story, kid: Member, first: date, concern: str, severity: str) -> tuple[str, bool]:
    """A referral after the first contact, and the plan it led to: (the involvement, whether still open)."""
    authority = story.home.town.authority
    referred = story.between(first, story.today)
    story.add(
        "socialcare",
        kid,
        "social_care_history.contacts",
        referred,
        contact_date=referred,
        contact_type="REFERRAL",
        contact_source="LA services",
        primary_concern=concern,
        outcome="Child and family assessment",
    )
    start = story.between(referred, story.today)
    ended = story.chance(0.5)
    end = story.between(start, story.today) if ended else None
    if severity == "medium":
        story.add(
            "socialcare",
            kid,
            "social_care_history.cin_plans",
            start,
            start_date=start,
            end_date=end,
            primary_need=_NEED.get(concern, "N2 Disability or illness"),
            local_authority=authority,
            closure_reason="Case closed after assessment" if ended else None,
        )
        return "CHILD_IN_NEED", not ended
    category = {"Domestic abuse": "EMOTIONAL_ABUSE", "Neglect": "NEGLECT"}.get(concern, "MULTIPLE")
    story.add(
        "socialcare",
        kid,
        "social_care_history.cp_plans",
        start,
        category=category,
        start_date=start,
        end_date=end,
        local_authority=authority,
    )
    return "CHILD_PROTECTION", not ended


_NEED = {
    "Domestic abuse": "N1 Abuse or neglect",
    "Neglect": "N1 Abuse or neglect",
    "Child missing": "N4 Family in acute stress",
}


_ORDERS = {"Placement order (adopted)": 50, "Care order": 35, "Special guardianship order": 15}


def previous_removal(story: Story) -> None:
    """A mother who had a child removed from her care years ago, by a court order: the child lives
    elsewhere now (adopted, in care, or with a special guardian), and the council's record of it stays
    with her. Rare, and far likelier where the household is in difficulty again."""
    mothers = [m for m in story.adults() if m.sex == "FEMALE" and 19 <= m.age(story.today) <= 45]
    troubled = bool(story.flags & {"da", "neglect"}) and bool(story.children())
    if not mothers or not story.chance(0.15 if troubled else 0.003):
        return
    mother = mothers[0]
    removed = story.ago(365, 10 * 365, after=mother.dob + timedelta(days=17 * 365))
    story.add(
        "socialcare",
        mother,
        "social_care_history.children_removed",
        removed,
        removed_on=removed,
        order=story.pick(_ORDERS),
    )


def kinship_care(story: Story) -> None:
    """Grandparents caring for grandchildren: looked after by the council, or under a special guardianship
    order that ended the care order."""
    guardians = any(r.relationship == "SPECIAL_GUARDIAN" for r in story.home.relationships)
    authority = story.home.town.authority
    for kid in story.children():
        start = story.ago(90, 6 * 365, after=kid.dob)
        end = story.between(start, story.today) if guardians else None
        story.add(
            "socialcare",
            kid,
            "social_care_history.looked_after",
            start,
            legal_status=story.pick({"FULL_CARE_ORDER": 50, "SECTION_20": 30, "INTERIM_CARE_ORDER": 20}),
            start_date=start,
            end_date=end,
            placement_type="Kinship foster care (connected person)",
            placing_authority=authority,
        )
        story.add(
            "socialcare",
            kid,
            "social_care_history.current_status",
            story.today,
            case_open=not guardians,
            allocated_social_worker=not guardians,
            involvement="NONE" if guardians else "LOOKED_AFTER",
            team=None if guardians else f"{story.home.town.area} children in care team",
        )
    for adult in story.adults():
        adult.known.add("socialcare")
