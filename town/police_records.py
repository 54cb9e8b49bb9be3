"""The police's records of offending, victims and missing children: incidents, disposals, markers and
intelligence, and a PNC ID for everyone charged, cautioned or convicted; and the registered sex offenders
whose sentences are over, whom the police manage alone. Most households appear in none."""

from __future__ import annotations

from datetime import date, timedelta

from town.contact import SEX_OFFENDER_MARKER
from town.households import Member
from town.justice_records import probation, youth_justice
from town.social_care_records import social_care
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


# Offence, CJS offence code, sentence: each carries notification requirements (the sex offenders register).
_SEXUAL_OFFENCES = (
    ("Sexual assault of a female aged 13 or over", "SX03007", "Imprisonment, 2 years; notification 10 years"),
    ("Sexual activity with a child", "SX03010", "Imprisonment, 5 years; notification indefinitely"),
    ("Making indecent photographs of a child", "PC78001", "Imprisonment, 18 months; notification 10 years"),
    ("Causing a child to watch a sexual act", "SX03018", "Imprisonment, 3 years; notification indefinitely"),
)


def incident_ref(story: Story, day: date) -> str:
    return f"{day:%Y%m%d}-{story.rng.randint(1, 9999):04d}"


def crime_ref(story: Story, day: date) -> str:
    return f"CR/{story.rng.randint(1, 999_999):06d}/{day:%y}"


def arrest(story: Story, m: Member, on: date) -> None:
    """A person charged, cautioned or convicted has a PNC record from then on."""
    if m.pnc is None:
        m.pnc = story.b.ids.pnc(on.year)


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
        add_disposal(story, m, day, offence, code, category, disposal)
        if (story.today - day).days < 3 * 365 and story.chance(0.6):
            story.add(
                "police",
                m,
                "police_incidents",
                day - timedelta(days=30),
                "ALLEGATION",
                incident_ref=incident_ref(story, day),
                incident_date=day - timedelta(days=30),
                incident_type=offence,
                subject_role="SUSPECT",
                child_present=None,
                domestic_abuse=False,
                weapons_involved=category == "WEAPONS",
                summary="Suspect identified and interviewed",
                location_postcode=None,
                crime_ref=crime_ref(story, day),
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
            add_marker(story, m, first, code, description)
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


def sex_offender(story: Story, m: Member) -> None:
    """A man convicted of a sexual offence years ago, his sentence served and his licence over: probation
    no longer holds him, but he is on the sex offenders register, managed by the police alone (MOSOVO)."""
    story.flags.add("sex_offender")
    day = story.ago(6 * 365, 20 * 365, after=m.dob + timedelta(days=19 * 365))
    arrest(story, m, day)
    offence, code, outcome = story.rng.choice(_SEXUAL_OFFENCES)
    story.add(
        "police",
        m,
        "police_convictions.disposals",
        day,
        disposal_type="CONVICTION",
        offence=offence,
        offence_code=code,
        offence_category="SEXUAL",
        offence_date=day - timedelta(days=story.rng.randint(60, 400)),
        disposal_date=day,
        outcome=outcome,
        court=story.home.town.court,
        spent=False,  # a sentence of more than four years, or a sexual offence's notification, is never spent
    )
    add_marker(story, m, day, SEX_OFFENDER_MARKER, "Sex offender register: notification requirements (ViSOR)")
    if story.chance(0.3):
        seen = story.ago(14, 400)
        story.add(
            "police",
            m,
            "police_intelligence",
            seen,
            "ALLEGATION",
            source_evaluation="SOURCE_2_UNTESTED",
            intelligence_assessment="C_KNOWN_INDIRECTLY",
            handling_code="C_SHARING_WITH_CONDITIONS",
            handling_conditions="Not to be disclosed to the subject; for safeguarding purposes only",
            intelligence_date=seen,
            summary="Registered sex offender reported to be befriending a family with young children",
            themes=["ONLINE_CSA"] if story.chance(0.5) else ["OTHER"],
            subject_role="SUBJECT",
            linked_address_postcode=None,
        )


def add_disposal(
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


def add_marker(story: Story, m: Member, day: date, code: str, description: str) -> None:
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
        incident_ref=incident_ref(story, day),
        incident_date=day,
        incident_type=kind,
        subject_role=story.pick({"VICTIM": 70, "WITNESS": 15, "REPORTING_PERSON": 15}),
        child_present=None,
        domestic_abuse=False,
        weapons_involved=None,
        summary=summary,
        location_postcode=story.home.address.postcode,
        crime_ref=crime_ref(story, day) if kind != "Road traffic collision" else None,
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
            incident_ref=incident_ref(story, day),
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
        incident_ref=incident_ref(story, day),
        incident_date=day,
        incident_type=offence,
        subject_role="SUSPECT",
        child_present=None,
        domestic_abuse=False,
        weapons_involved=category == "WEAPONS",
        summary="Young person identified as suspect; appropriate adult present at interview",
        location_postcode=None,
        crime_ref=crime_ref(story, day),
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
        add_disposal(story, kid, decided, offence, "", category, outcome)
    youth_justice(story, kid, decided, offence, outcome)
