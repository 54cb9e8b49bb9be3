"""Health's records of everyone: GP registrations, emergency attendances, health visiting and school
nursing, CAMHS, adult mental health and maternity. Rates are national ones, raised where a household is
already in difficulty."""

from __future__ import annotations

from datetime import date, timedelta

from town.households import Member
from town.story import Story, concerned

_ED_REASONS = (
    ("Head injury", True),
    ("Fracture of wrist", True),
    ("Laceration to hand", True),
    ("Sprained ankle", True),
    ("Burn to hand", True),
    ("Fall", True),
    ("Dog bite", True),
    ("Chest pain", False),
    ("Abdominal pain", False),
    ("Breathing difficulty", False),
    ("Febrile illness", False),
    ("Asthma attack", False),
    ("Allergic reaction", False),
    ("Seizure", False),
    ("Vomiting and diarrhoea", False),
)
_ED_RATE = ((2, 0.45), (5, 0.3), (18, 0.18), (65, 0.22), (200, 0.35))  # attendances a year, by age below
_HV_REVIEWS = (
    (12, "New birth visit"),
    (49, "6-8 week review"),
    (300, "9-12 month review"),
    (760, "2-2.5 year review"),
)
_SN_CONTACTS = (
    "School entry health review",
    "Drop-in session",
    "Emotional health and wellbeing assessment",
    "Enuresis clinic",
    "Review health assessment",
)


def health(story: Story) -> None:
    for member in story.members():
        _gp(story, member)
        _emergency(story, member)
        age = member.age(story.today)
        if age < 5:
            _health_visiting(story, member)
        elif age < 18 and story.chance(0.25 if concerned(story) else 0.06):
            _school_nursing(story, member)
        if 8 <= age < 18 and story.chance(0.15 if concerned(story) else 0.04):
            _camhs(story, member)
        if age >= 18 and story.chance(0.12 if story.flags & {"da", "offending"} else 0.025):
            mental_health(story, member)
        if age >= 18 and story.chance(0.2 if "drugs" in story.flags else 0.008):
            mental_health(story, member, "OTHER")  # the drug and alcohol service
    _maternity(story)


def _gp(story: Story, m: Member) -> None:
    practices = story.home.town.practices
    since = max(m.dob, story.ago(30, 20 * 365))
    if since > m.dob + timedelta(days=400) and story.chance(0.2):
        before = story.between(m.dob, since - timedelta(days=200))
        old = story.rng.choice(story.b.catalogue.pick_town(story.rng).practices)
        story.add(
            "health",
            m,
            "health_summary.gp_registrations",
            before,
            practice_name=old.name,
            practice_code=old.code,
            registered_since=before,
            registered_until=since - timedelta(days=1),
        )
    practice = story.rng.choice(practices)
    story.add(
        "health",
        m,
        "health_summary.gp_registrations",
        since,
        practice_name=practice.name,
        practice_code=practice.code,
        registered_since=since,
        registered_until=None,
    )


def _emergency(story: Story, m: Member) -> None:
    age = m.age(story.today)
    rate = next(r for limit, r in _ED_RATE if age < limit) * (1.6 if concerned(story) else 1.0)
    site = f"{story.home.town.hospital} Emergency Department"
    for _ in range(3):  # the last three years
        if not story.chance(rate):
            continue
        day = story.ago(1, 3 * 365, after=m.dob)
        reason, injury = story.rng.choice(_ED_REASONS)
        if age >= 13 and story.chance(0.08 if concerned(story) else 0.02):
            reason, injury = story.rng.choice((("Self-harm (laceration)", True), ("Overdose", False)))
        # An injury to a baby who cannot crawl yet, or a child's self-harm, raises the question every time.
        concern = (injury and age < 2 and story.chance(0.3)) or (concerned(story) and story.chance(0.25))
        concern = concern or (reason in ("Self-harm (laceration)", "Overdose") and age < 18)
        story.add(
            "health",
            m,
            "health_summary.emergency_attendances",
            day,
            attendance_date=day,
            reason=reason,
            site=site,
            injury=injury,
            safeguarding_concern_raised=bool(concern),
            admitted=story.chance(0.35 if age >= 65 else 0.12),
        )


def _health_visiting(story: Story, m: Member) -> None:
    neglect = "neglect" in story.flags
    for days, review in _HV_REVIEWS:
        due = m.dob + timedelta(days=days)
        if due > story.today:
            break
        day = min(story.today, due + timedelta(days=story.rng.randint(0, 14)))
        attendance = story.pick(
            {"ATTENDED": 60, "WAS_NOT_BROUGHT": 35, "DID_NOT_ATTEND": 5}
            if neglect
            else {"ATTENDED": 93, "WAS_NOT_BROUGHT": 3, "DID_NOT_ATTEND": 2, "CANCELLED": 2}
        )
        concerns = None
        if neglect and story.chance(0.5):
            concerns = story.rng.choice(
                (
                    "Home conditions poor; advice given",
                    "Weight faltering; GP informed",
                    "Parent presented as low in mood",
                    "Missed immunisations",
                )
            )
        story.add(
            "health",
            m,
            "health_summary.community_contacts",
            day,
            service="HEALTH_VISITING",
            contact_date=day,
            contact_type=review,
            attendance=attendance,
            concerns=concerns,
        )
    if "da" in story.flags:
        day = story.ago(1, 300, after=m.dob)
        story.add(
            "health",
            m,
            "health_summary.community_contacts",
            day,
            service="HEALTH_VISITING",
            contact_date=day,
            contact_type="Targeted contact after police notification",
            attendance="ATTENDED",
            concerns="Domestic abuse notification; safety planning discussed with parent",
        )


def _school_nursing(story: Story, m: Member) -> None:
    day = story.ago(7, 700, after=m.dob)
    concerns = "Disclosed worries at home; DSL informed" if concerned(story) and story.chance(0.5) else None
    story.add(
        "health",
        m,
        "health_summary.community_contacts",
        day,
        service="SCHOOL_NURSING",
        contact_date=day,
        contact_type=story.rng.choice(_SN_CONTACTS),
        attendance=story.pick({"ATTENDED": 90, "DID_NOT_ATTEND": 6, "WAS_NOT_BROUGHT": 4}),
        concerns=concerns,
    )


def _camhs(story: Story, m: Member) -> None:
    referred = story.ago(30, 3 * 365, after=m.dob + timedelta(days=8 * 365))
    status = story.pick({"REFERRED": 25, "OPEN": 30, "DISCHARGED": 35, "DECLINED": 10})
    discharged = None
    if status == "DISCHARGED":
        discharged = min(story.today, referred + timedelta(days=story.rng.randint(60, 400)))
    team = f"{story.home.town.area} CAMHS"
    story.add(
        "health",
        m,
        "health_summary.camhs",
        referred,
        status=status,
        referral_date=referred,
        discharge_date=discharged,
        team=team,
    )
    if status in ("OPEN", "DISCHARGED"):
        story.add(
            "health",
            m,
            "mental_health.episodes",
            referred,
            service="CAMHS",
            engagement="DISCHARGED" if discharged else story.pick({"ENGAGED": 70, "DISENGAGED": 30}),
            diagnosis_summary=story.rng.choice(
                ("Anxiety", "Low mood", "Self-harm", "Eating difficulties", "ADHD assessment")
            ),
            open_date=referred,
            discharge_date=discharged,
            care_coordinator_role="CAMHS clinician",
            risk_to_self=story.chance(0.3),
            risk_to_others=False,
            risk_notes=None,
        )
        if story.chance(0.2):
            _crisis(story, m, referred)


def mental_health(story: Story, m: Member, service: str | None = None) -> None:
    opened = story.ago(30, 5 * 365, after=m.dob + timedelta(days=18 * 365))
    service = service or story.pick(
        {"ADULT_MENTAL_HEALTH": 85, "EARLY_INTERVENTION_PSYCHOSIS": 7, "PERINATAL": 8}
    )
    diagnosis = {
        "ADULT_MENTAL_HEALTH": (
            "Depression and anxiety",
            "Emotionally unstable personality disorder",
            "Bipolar affective disorder",
            "Post-traumatic stress disorder",
        ),
        "EARLY_INTERVENTION_PSYCHOSIS": ("First episode psychosis",),
        "PERINATAL": ("Postnatal depression", "Perinatal anxiety"),
        "OTHER": ("Alcohol dependence", "Opiate dependence", "Cocaine use disorder"),
    }[service]
    discharged = (
        min(story.today, opened + timedelta(days=story.rng.randint(90, 900))) if story.chance(0.4) else None
    )
    risk_self = story.chance(0.35)
    story.add(
        "health",
        m,
        "mental_health.episodes",
        opened,
        service=service,
        engagement="DISCHARGED" if discharged else story.pick({"ENGAGED": 75, "DISENGAGED": 25}),
        diagnosis_summary=story.rng.choice(diagnosis),
        open_date=opened,
        discharge_date=discharged,
        care_coordinator_role="Drug and alcohol recovery worker"
        if service == "OTHER"
        else "Community mental health team care coordinator",
        risk_to_self=risk_self,
        risk_to_others=story.chance(0.08),
        risk_notes="Safety plan in place" if risk_self else None,
    )
    if story.chance(0.3):
        _crisis(story, m, opened)


def _crisis(story: Story, m: Member, after: date) -> None:
    day = story.between(after, story.today)
    kind = story.pick(
        {
            "SELF_HARM": 40,
            "SUICIDE_ATTEMPT": 10,
            "MHA_ASSESSMENT": 20,
            "S136_DETENTION": 10,
            "ADMISSION": 10,
            "PSYCHOTIC_EPISODE": 10,
        }
    )
    story.add(
        "health",
        m,
        "mental_health.crisis_episodes",
        day,
        episode_date=day,
        episode_type=kind,
        service="Crisis resolution and home treatment team",
        outcome=story.rng.choice(
            ("Home treatment", "Informal admission", "Discharged to GP", "Detained under the MHA")
        ),
    )


def _maternity(story: Story) -> None:
    unit = f"{story.home.town.hospital} maternity unit"
    mothers = {(r.person, r.other) for r in story.home.relationships if r.relationship == "MOTHER"}
    babies = [m for m in story.children() if m.age(story.today) == 0]
    for woman in (m for m in story.adults() if m.sex == "FEMALE" and m.age(story.today) <= 45):
        baby = next((b for b in babies if (b.key, woman.key) in mothers), None)
        late = concerned(story) and story.chance(0.4)
        if baby is not None:
            due = baby.dob + timedelta(days=story.rng.randint(-14, 14))
            booked = due - timedelta(days=280 - story.rng.randint(*((91, 160) if late else (56, 90))))
            story.add(
                "health",
                woman,
                "health_summary.maternity",
                booked,
                booking_date=booked,
                late_booking=late,
                expected_delivery_date=due,
                delivery_date=baby.dob,
                missed_antenatal_appointments=story.rng.randint(2, 5) if late else story.rng.randint(0, 1),
                unit=unit,
                concerns="Domestic abuse disclosed at booking" if "da" in story.flags else None,
            )
        elif 18 <= woman.age(story.today) <= 42 and story.chance(0.03 if concerned(story) else 0.012):
            due = story.today + timedelta(days=story.rng.randint(7, 250))
            booking: date | None = due - timedelta(
                days=280 - story.rng.randint(*((91, 160) if late else (56, 90)))
            )
            if booking is not None and booking > story.today:
                booking = None  # not booked yet
            story.add(
                "health",
                woman,
                "health_summary.maternity",
                booking or story.today,
                booking_date=booking,
                late_booking=late,
                expected_delivery_date=due,
                delivery_date=None,
                missed_antenatal_appointments=story.rng.randint(1, 3) if late else 0,
                unit=unit,
                concerns=None,
            )
            if story.chance(0.08):
                mental_health(story, woman, "PERINATAL")
