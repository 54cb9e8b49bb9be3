"""Probation's and youth justice's records: sentences, licences and MAPPA; youth justice allocations,
orders, out-of-court disposals and interventions."""

from __future__ import annotations

from datetime import date, timedelta

from town.households import Member
from town.story import Story

_INTERVENTIONS = (
    "Weapons awareness",
    "Victim awareness",
    "Substance misuse",
    "Education, training and employment support",
    "Speech, language and communication screening",
    "Emotional wellbeing",
    "Exploitation awareness",
)
_LICENCE_CONDITIONS = (
    "Reside at an address approved by the probation practitioner",
    "Not to contact the victim directly or indirectly",
    "Not to enter the exclusion zone shown on the map",
    "Curfew 19:00 to 07:00, electronically monitored",
    "Attend appointments with the probation practitioner",
    "Disclose developing relationships to the probation practitioner",
    "Not to have unsupervised contact with children under 18",
)


def probation(story: Story, m: Member, sentenced: date, offence: str, *, domestic: bool) -> None:
    status = story.pick(
        {
            "COMMUNITY_ORDER": 40,
            "SUSPENDED_SENTENCE": 15,
            "ON_LICENCE": 20,
            "POST_SENTENCE_SUPERVISION": 10,
            "IN_CUSTODY": 15,
        }
    )
    released = None
    if status == "ON_LICENCE":
        released = story.between(sentenced, story.today)
    elif status == "IN_CUSTODY":
        released = story.today + timedelta(days=story.rng.randint(30, 700))
    sexual = story.chance(0.03)
    custodial = status in ("ON_LICENCE", "IN_CUSTODY", "POST_SENTENCE_SUPERVISION")
    mappa = (
        ("CATEGORY_1" if sexual else "CATEGORY_2") if sexual or (custodial and story.chance(0.3)) else None
    )
    rosh = story.pick(
        {"LOW": 30, "MEDIUM": 50, "HIGH": 17, "VERY_HIGH": 3}
        if domestic
        else {"LOW": 50, "MEDIUM": 40, "HIGH": 10}
    )
    conditions = story.rng.sample(_LICENCE_CONDITIONS, k=3) if custodial else []
    area = story.home.town.area
    story.add(
        "probation",
        m,
        "probation",
        sentenced,
        mappa_category=mappa,
        mappa_level=story.pick({"LEVEL_1": 80, "LEVEL_2": 18, "LEVEL_3": 2}) if mappa else None,
        custody_status=status,
        release_date=released,
        sentence_end_date=sentenced + timedelta(days=story.rng.randint(365, 4 * 365)),
        offence_type="Sexual offence" if sexual else offence,
        registered_sex_offender=sexual,
        rosh_level=rosh,
        rosh_to_children=("HIGH" if domestic and story.children() else "MEDIUM")
        if domestic or sexual
        else None,
        licence_conditions=conditions,
        approved_premises=f"{area} approved premises" if custodial and story.chance(0.1) else None,
        exclusion_zones=["Exclusion zone around the victim's home (map held by probation)"]
        if domestic and custodial
        else [],
        offender_manager_role=f"Probation practitioner, {area} probation delivery unit",
    )


def youth_justice(story: Story, kid: Member, decided: date, offence: str, outcome: str) -> None:
    team = f"{story.home.town.area} youth justice service"
    story.add(
        "youthjustice",
        kid,
        "youth_justice.allocations",
        decided,
        "OPINION",
        case_worker_role="YJS case manager",
        team=team,
        rosh_level=story.pick({"LOW": 55, "MEDIUM": 35, "HIGH": 10}),
        safety_wellbeing_level=story.pick({"LOW": 30, "MEDIUM": 50, "HIGH": 20}),
    )
    if outcome == "CONVICTION":
        order = story.pick(
            {"REFERRAL_ORDER": 65, "YOUTH_REHABILITATION_ORDER": 30, "DETENTION_AND_TRAINING_ORDER": 5}
        )
        requirements = (
            story.rng.sample(
                [
                    "Supervision",
                    "Curfew",
                    "Activity requirement",
                    "Unpaid work",
                    "Intensive supervision and surveillance",
                ],
                k=2,
            )
            if order != "REFERRAL_ORDER"
            else []
        )
        story.add(
            "youthjustice",
            kid,
            "youth_justice.orders",
            decided,
            order_type=order,
            start_date=decided,
            end_date=decided + timedelta(days=story.rng.choice((90, 180, 365))),
            offence=offence,
            requirements=requirements,
        )
    else:
        story.add(
            "youthjustice",
            kid,
            "youth_justice.out_of_court_disposals",
            decided,
            disposal_type=outcome,
            disposal_date=decided,
            offence=offence,
            conditions="Attend the YJS programme and write a letter of apology"
            if "CONDITIONAL" in outcome
            else None,
        )
    for kind in story.rng.sample(_INTERVENTIONS, k=story.rng.randint(1, 3)):
        start = story.between(decided, story.today)
        story.add(
            "youthjustice",
            kid,
            "youth_justice.interventions",
            start,
            intervention_type=kind,
            start_date=start,
            end_date=story.between(start, story.today) if story.chance(0.5) else None,
            engagement=story.pick({"ENGAGED": 55, "PARTIALLY_ENGAGED": 30, "DISENGAGED": 15}),
        )
