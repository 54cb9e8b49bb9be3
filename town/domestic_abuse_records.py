"""Domestic abuse as the police record it: incidents for victim, suspect and the children present, a
DASH risk assessment and MARAC, protective orders, and the convictions and probation that may follow; and
a victim who flees an ex-partner to a refuge, with the children."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from town.households import Member
from town.justice_records import probation
from town.police_records import add_disposal, add_marker, arrest, crime_ref, incident_ref
from town.school_records import encompass
from town.story import Story

_DA_OFFENCES = (
    ("Assault by beating of an intimate partner", "CJ88116", "DOMESTIC_ABUSE"),
    ("Controlling or coercive behaviour in an intimate or family relationship", "SC15001", "DOMESTIC_ABUSE"),
    ("Criminal damage (domestic)", "CD71236", "DOMESTIC_ABUSE"),
    ("Breach of a non-molestation order", "FL96001", "DOMESTIC_ABUSE"),
)
_DA_INCIDENTS = (
    (
        "Domestic incident - verbal argument",
        False,
        "Neighbour reported shouting; both parties spoken to; no injuries seen",
    ),
    ("Domestic assault", True, "Victim reported being pushed and struck; visible injury to arm"),
    ("Criminal damage - domestic", True, "Property damaged during argument; victim frightened"),
    (
        "Harassment by ex-partner",
        True,
        "Repeated unwanted calls and messages; victim fearful of attending home",
    ),
    (
        "Controlling or coercive behaviour",
        True,
        "Victim disclosed control of finances and isolation from family",
    ),
)


def domestic_abuse(story: Story, victim: Member, perpetrator: Member) -> str:
    """Incidents, a DASH assessment and, when the risk is high, MARAC. Returns the DASH risk level."""
    kids = story.children()
    dates = sorted(story.ago(2, 700) for _ in range(story.rng.choice((1, 1, 1, 2, 2, 3, 4, 6))))
    level = story.pick(
        {"STANDARD": 55, "MEDIUM": 30, "HIGH": 15} if len(dates) < 4 else {"MEDIUM": 40, "HIGH": 60}
    )
    present_any = False
    for day in dates:
        kind, crime, summary = story.rng.choice(_DA_INCIDENTS)
        present = bool(kids) and story.chance(0.6)
        present_any |= present
        ref = incident_ref(story, day)
        action = story.rng.choice(("Suspect arrested", "Words of advice", "DVPN issued", "No further action"))
        common: dict[str, Any] = {
            "incident_ref": ref,
            "incident_date": day,
            "incident_type": kind,
            "child_present": present,
            "domestic_abuse": True,
            "weapons_involved": story.chance(0.05),
            "summary": summary,
            "location_postcode": story.home.address.postcode,
            "crime_ref": crime_ref(story, day) if crime else None,
            "police_action": action,
            "ppn_submitted": present or level != "STANDARD",
        }
        story.add("police", victim, "police_incidents", day, subject_role="VICTIM", **common)
        story.add(
            "police", perpetrator, "police_incidents", day, "ALLEGATION", subject_role="SUSPECT", **common
        )
        for kid in kids if present else []:
            story.add("police", kid, "police_incidents", day, subject_role="PRESENT", **common)
        if action == "Suspect arrested":
            arrest(story, perpetrator, day)
        encompass(story, ref, day)
    _dash(story, level, dates, present_any, victim, perpetrator)
    if story.chance(0.4 if level == "HIGH" else 0.1):
        _protective_order(story, victim, perpetrator, dates[-1])
    if story.chance(0.4):
        day = story.between(dates[0], story.today)
        arrest(story, perpetrator, day)
        offence, code, category = story.rng.choice(_DA_OFFENCES)
        add_disposal(story, perpetrator, day, offence, code, category, "CONVICTION")
        add_marker(story, perpetrator, day, "VI", "Violent")
        if story.chance(0.5):
            probation(story, perpetrator, day, offence, domestic=True)
    return level


# The chance that a victim of an ex-partner's abuse, at each DASH risk level, has fled to a refuge.
_FLEES = {"HIGH": 0.6, "MEDIUM": 0.25}


def flee(story: Story, victim: Member, level: str) -> None:
    """The victim and the children have fled the ex-partner to a refuge: its address is confidential
    (housing flags the property), and health records mark each of them with a confidential address."""
    if not story.chance(_FLEES.get(level, 0.0)):
        return
    story.home.refuge = True
    story.flags.update({"refuge", "social_rent"})
    for m in (victim, *story.children()):
        m.confidential = True


def _dash(
    story: Story, level: str, dates: list[date], present: bool, victim: Member, perpetrator: Member
) -> None:
    score = {"STANDARD": (2, 9), "MEDIUM": (10, 13), "HIGH": (14, 24)}[level]
    dash_date = dates[-1]
    marac = level == "HIGH"
    marac_date = dash_date + timedelta(days=story.rng.randint(7, 28)) if marac else None
    case = {
        "dash_risk_level": level,
        "dash_score": story.rng.randint(*score),
        "dash_date": dash_date,
        "incident_count": sum(1 for d in dates if (story.today - d).days <= 365),
        "latest_incident_date": dash_date,
        "children_present": present if story.children() else None,
        "marac_referred": marac,
        "marac_date": marac_date if marac_date and marac_date <= story.today else None,
        "idva_allocated": (story.chance(0.8) if marac else None),
    }
    # A DASH risk level is a professional judgement.
    story.add("police", victim, "domestic_abuse.cases", dash_date, "OPINION", subject_role="VICTIM", **case)
    story.add(
        "police",
        perpetrator,
        "domestic_abuse.cases",
        dash_date,
        "OPINION",
        subject_role="PERPETRATOR",
        **case,
    )
    for kid in story.children():
        story.add(
            "police",
            kid,
            "domestic_abuse.cases",
            dash_date,
            "OPINION",
            subject_role="CHILD_IN_HOUSEHOLD",
            **case,
        )
    if marac:
        story.add(
            "police",
            victim,
            "victim_safe_contact",
            dash_date,
            phone=f"07700 900{story.rng.randint(0, 999):03d}",
            address_lines=[],
            postcode=None,
            safe_times=story.rng.choice(("Weekdays 10:00-14:00", "Mornings only", "Any time via IDVA")),
            contact_via="IDVA service",
            notes="Do not leave voicemail; do not send letters to the home address",
        )


def _protective_order(story: Story, victim: Member, perpetrator: Member, after: date) -> None:
    start = story.between(after, story.today)
    kind = story.pick({"NON_MOLESTATION_ORDER": 50, "DVPO": 35, "RESTRAINING_ORDER": 15})
    length = {"NON_MOLESTATION_ORDER": 365, "DVPO": 28, "RESTRAINING_ORDER": 730}[kind]
    order: dict[str, Any] = {
        "order_type": kind,
        "start_date": start,
        "end_date": start + timedelta(days=length),
        "court": story.home.town.court,
        "conditions": [
            "Not to contact the protected person directly or indirectly",
            "Not to attend within 100 metres of the protected person's home",
        ],
        "breach_count": story.rng.choice((0, 0, 0, 1, 2)),
    }
    story.add("police", victim, "domestic_abuse.protective_orders", start, **order)
    story.add("police", perpetrator, "domestic_abuse.protective_orders", start, **order)
