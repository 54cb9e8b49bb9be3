"""The records that safeguarding turns on: police incidents, convictions and intelligence, domestic abuse
and MARAC, children's social care, probation and youth justice. Most households appear in none of them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from town import universal
from town.households import Member
from town.story import Story

# Offence, CJS offence code, category.
_OFFENCES = (
    ("Theft from a shop", "TH68010", "ACQUISITIVE"),
    ("Burglary of a dwelling", "TH68001", "ACQUISITIVE"),
    ("Possession of a controlled drug (class B)", "MD71230", "DRUGS"),
    ("Possession with intent to supply a controlled drug (class A)", "MD71240", "DRUGS"),
    ("Assault occasioning actual bodily harm", "OF61016", "VIOLENCE"),
    ("Common assault", "CJ88116", "VIOLENCE"),
    ("Criminal damage", "CD71236", "OTHER"),
    ("Using threatening words or behaviour", "PU86001", "PUBLIC_ORDER"),
    ("Possession of a bladed article in a public place", "CJ88136", "WEAPONS"),
    ("Driving with excess alcohol", "RT88571", "MOTORING"),
    ("Driving while disqualified", "RT88333", "MOTORING"),
)
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
_VICTIM_INCIDENTS = (
    ("Burglary of a dwelling", "Property entered while occupants out; items taken"),
    ("Theft from a motor vehicle", "Vehicle window smashed; bag taken"),
    ("Road traffic collision", "Minor collision; details exchanged"),
    ("Anti-social behaviour", "Groups gathering and shouting outside address"),
    ("Fraud", "Caller posed as bank staff; money transferred"),
)
_YOUTH_OFFENCES = (
    ("Theft from a shop", "ACQUISITIVE"),
    ("Common assault", "VIOLENCE"),
    ("Criminal damage", "OTHER"),
    ("Possession of a bladed article in a public place", "WEAPONS"),
    ("Robbery", "ACQUISITIVE"),
    ("Possession of a controlled drug (class B)", "DRUGS"),
)
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


def _incident_ref(story: Story, day: date) -> str:
    return f"{day:%Y%m%d}-{story.rng.randint(1, 9999):04d}"


def _crime_ref(story: Story, day: date) -> str:
    return f"CR/{story.rng.randint(1, 999_999):06d}/{day:%y}"


def arrest(story: Story, m: Member, on: date) -> None:
    """A person charged, cautioned or convicted has a PNC record from then on."""
    if m.pnc is None:
        m.pnc = story.b.ids.pnc(on.year)


# --- domestic abuse ---------------------------------------------------------------------------------------


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
        ref = _incident_ref(story, day)
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
            "crime_ref": _crime_ref(story, day) if crime else None,
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
        universal.encompass(story, ref, day)
    _dash(story, level, dates, present_any, victim, perpetrator)
    if story.chance(0.4 if level == "HIGH" else 0.1):
        _protective_order(story, victim, perpetrator, dates[-1])
    if story.chance(0.4):
        day = story.between(dates[0], story.today)
        arrest(story, perpetrator, day)
        offence, code, category = story.rng.choice(_DA_OFFENCES)
        _disposal(story, perpetrator, day, offence, code, category, "CONVICTION")
        _marker(story, perpetrator, day, "VI", "Violent")
        if story.chance(0.5):
            probation(story, perpetrator, day, offence, domestic=True)
    return level


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


# --- offending, victims, missing children -----------------------------------------------------------------


def offending(story: Story, m: Member) -> None:
    """An adult with a criminal record: disposals over the years, recent incidents, perhaps intelligence."""
    story.flags.add("offending")
    first = story.ago(30, 20 * 365, after=m.dob + timedelta(days=16 * 365))
    arrest(story, m, first)
    kinds = []
    for day in sorted(story.between(first, story.today) for _ in range(story.rng.choice((1, 1, 2, 3, 5, 8)))):
        offence, code, category = story.rng.choice(_OFFENCES)
        kinds.append(category)
        disposal = story.pick(
            {"CONVICTION": 60, "CAUTION": 20, "CONDITIONAL_CAUTION": 10, "PENALTY_NOTICE": 10}
        )
        _disposal(story, m, day, offence, code, category, disposal)
        if (story.today - day).days < 3 * 365 and story.chance(0.6):
            story.add(
                "police",
                m,
                "police_incidents",
                day - timedelta(days=30),
                "ALLEGATION",
                incident_ref=_incident_ref(story, day),
                incident_date=day - timedelta(days=30),
                incident_type=offence,
                subject_role="SUSPECT",
                child_present=None,
                domestic_abuse=False,
                weapons_involved=category == "WEAPONS",
                summary="Suspect identified and interviewed",
                location_postcode=None,
                crime_ref=_crime_ref(story, day),
                police_action="Charged" if disposal == "CONVICTION" else "Out of court disposal",
                ppn_submitted=False,
            )
        if disposal == "CONVICTION" and (story.today - day).days < 2 * 365 and story.chance(0.35):
            probation(story, m, day, offence, domestic=False)
    for code, description, category in (
        ("VI", "Violent", "VIOLENCE"),
        ("WE", "Weapons", "WEAPONS"),
        ("DR", "Drugs", "DRUGS"),
    ):
        if category in kinds and story.chance(0.6):
            _marker(story, m, first, code, description)
    if "DRUGS" in kinds:
        story.flags.add("drugs")
    if "VIOLENCE" in kinds or "WEAPONS" in kinds:
        story.flags.add("violent")
    if story.chance(0.5 if "DRUGS" in kinds else 0.1):
        _intelligence(story, m, "DRUGS" in kinds)
    if story.chance(0.08):
        granted = story.ago(2, 60)
        story.add(
            "police",
            m,
            "police_convictions.bail",
            granted,
            bail_type="PRE_CHARGE",
            offence=story.rng.choice(_OFFENCES)[0],
            granted_date=granted,
            return_date=granted + timedelta(days=story.rng.randint(28, 90)),
            conditions=["Reside and sleep at home address", "Not to contact prosecution witnesses"],
            residence_postcode=story.home.address.postcode,
        )


def _disposal(
    story: Story, m: Member, day: date, offence: str, code: str, category: str, disposal: str
) -> None:
    if disposal == "CONVICTION":
        outcome = story.rng.choice(
            (
                "Fine",
                "Conditional discharge, 12 months",
                "Community order, 12 months, 100 hours unpaid work",
                "Suspended sentence, 6 months suspended for 18 months",
                "Imprisonment, 8 months",
            )
        )
        court = story.home.town.court
    else:
        outcome = {
            "CAUTION": "Simple caution",
            "CONDITIONAL_CAUTION": "Conditional caution: attend a course",
            "PENALTY_NOTICE": "Penalty notice for disorder",
        }.get(disposal, "Youth caution")
        court = None
    story.add(
        "police",
        m,
        "police_convictions.disposals",
        day,
        disposal_type=disposal,
        offence=offence,
        offence_code=code,
        offence_category=category,
        offence_date=day - timedelta(days=story.rng.randint(20, 180)),
        disposal_date=day,
        outcome=outcome,
        court=court,
        spent=(story.today - day).days > 4 * 365,
    )


def _marker(story: Story, m: Member, day: date, code: str, description: str) -> None:
    story.add(
        "police",
        m,
        "police_convictions.markers",
        day,
        marker_code=code,
        description=description,
        date_applied=day,
        active=True,
    )


def _intelligence(story: Story, m: Member, drugs: bool, at_risk: bool = False) -> None:
    day = story.ago(7, 500)
    if at_risk:
        themes = story.rng.choice((["MISSING", "CCE"], ["MISSING", "CSE"], ["CCE", "COUNTY_LINES"]))
        summary, role = "Child reported to be associating with older males linked to drug supply", "AT_RISK"
    elif drugs:
        themes = story.rng.choice(
            (["DRUG_SUPPLY"], ["DRUG_SUPPLY", "COUNTY_LINES"], ["COUNTY_LINES", "CUCKOOING"])
        )
        summary, role = "Subject believed to be supplying class A drugs in the local area", "SUBJECT"
    else:
        themes = story.rng.choice((["WEAPONS"], ["GANGS"], ["OTHER"]))
        summary, role = "Subject reported to be carrying a knife", "SUBJECT"
    conditional = story.chance(0.3)
    story.add(
        "police",
        m,
        "police_intelligence",
        day,
        "ALLEGATION",
        source_evaluation=story.pick(
            {"SOURCE_1_RELIABLE": 30, "SOURCE_2_UNTESTED": 60, "SOURCE_3_NOT_RELIABLE": 10}
        ),
        intelligence_assessment=story.pick(
            {
                "A_KNOWN_DIRECTLY": 15,
                "B_KNOWN_INDIRECTLY_CORROBORATED": 35,
                "C_KNOWN_INDIRECTLY": 40,
                "D_NOT_KNOWN": 10,
            }
        ),
        handling_code="C_SHARING_WITH_CONDITIONS" if conditional else "P_SHARING_PERMITTED",
        handling_conditions="Not to be disclosed to the subject; for safeguarding purposes only"
        if conditional
        else None,
        intelligence_date=day,
        summary=summary,
        themes=themes,
        subject_role=role,
        linked_address_postcode=story.home.address.postcode,
    )


def victim(story: Story, m: Member) -> None:
    day = story.ago(7, 3 * 365)
    kind, summary = story.rng.choice(_VICTIM_INCIDENTS)
    story.add(
        "police",
        m,
        "police_incidents",
        day,
        incident_ref=_incident_ref(story, day),
        incident_date=day,
        incident_type=kind,
        subject_role=story.pick({"VICTIM": 70, "WITNESS": 15, "REPORTING_PERSON": 15}),
        child_present=None,
        domestic_abuse=False,
        weapons_involved=None,
        summary=summary,
        location_postcode=story.home.address.postcode,
        crime_ref=_crime_ref(story, day) if kind != "Road traffic collision" else None,
        police_action=None,
        ppn_submitted=False,
    )


def missing(story: Story, kid: Member) -> None:
    """A child who goes missing from home: police episodes, often school absence and exploitation worries."""
    days = sorted(story.ago(2, 365) for _ in range(story.rng.choice((1, 1, 2, 3, 5))))
    for day in days:
        story.add(
            "police",
            kid,
            "police_incidents",
            day,
            incident_ref=_incident_ref(story, day),
            incident_date=day,
            incident_type="Missing person - child",
            subject_role="MISSING_PERSON",
            child_present=True,
            domestic_abuse=False,
            weapons_involved=None,
            summary=story.rng.choice(
                (
                    "Reported missing from home overnight; found safe next day",
                    "Missing after school; located in the city centre with older youths",
                )
            ),
            location_postcode=story.home.address.postcode,
            crime_ref=None,
            police_action="Return home interview",
            ppn_submitted=True,
        )
        if kid.school is not None and story.chance(0.5):
            story.add(
                "education",
                kid,
                "education_attendance.missing_episodes",
                day,
                episode_type="MISSING_FROM_SCHOOL",
                start_date=day,
                end_date=day + timedelta(days=1),
                notes="Absent while reported missing from home",
            )
    if len(days) >= 2 or story.chance(0.3):
        _intelligence(story, kid, drugs=False, at_risk=True)
    social_care(story, [kid], "Child missing", "low" if len(days) < 3 else "medium")


def youth_offending(story: Story, kid: Member) -> None:
    day = story.ago(14, 2 * 365, after=kid.dob + timedelta(days=12 * 365))
    offence, category = story.rng.choice(_YOUTH_OFFENCES)
    story.add(
        "police",
        kid,
        "police_incidents",
        day,
        "ALLEGATION",
        incident_ref=_incident_ref(story, day),
        incident_date=day,
        incident_type=offence,
        subject_role="SUSPECT",
        child_present=None,
        domestic_abuse=False,
        weapons_involved=category == "WEAPONS",
        summary="Young person identified as suspect; appropriate adult present at interview",
        location_postcode=None,
        crime_ref=_crime_ref(story, day),
        police_action="Referred to youth justice",
        ppn_submitted=True,
    )
    outcome = story.pick(
        {
            "COMMUNITY_RESOLUTION": 25,
            "YOUTH_CAUTION": 20,
            "YOUTH_CONDITIONAL_CAUTION": 15,
            "OUTCOME_22": 10,
            "CONVICTION": 30,
        }
    )
    decided = min(story.today, day + timedelta(days=story.rng.randint(14, 90)))
    if outcome in ("YOUTH_CAUTION", "YOUTH_CONDITIONAL_CAUTION", "CONVICTION"):
        arrest(story, kid, day)
        _disposal(story, kid, decided, offence, "", category, outcome)
    _youth_justice(story, kid, decided, offence, outcome)


# --- children's social care -------------------------------------------------------------------------------

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
    authority = story.home.town.authority
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
        involvement, open_case = ("EARLY_HELP", story.chance(0.3)) if severity == "low" else ("NONE", False)
        if severity != "low":
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
                involvement = "CHILD_IN_NEED"
            else:
                category = {"Domestic abuse": "EMOTIONAL_ABUSE", "Neglect": "NEGLECT"}.get(
                    concern, "MULTIPLE"
                )
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
                involvement = "CHILD_PROTECTION"
            open_case = not ended
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


_NEED = {
    "Domestic abuse": "N1 Abuse or neglect",
    "Neglect": "N1 Abuse or neglect",
    "Child missing": "N4 Family in acute stress",
}


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


# --- probation and youth justice --------------------------------------------------------------------------


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


def _youth_justice(story: Story, kid: Member, decided: date, offence: str, outcome: str) -> None:
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
