"""The universal services' records: health (everyone), schools (children and their parents), housing
(social tenants). Rates are national ones, raised where a household is already in difficulty."""

from __future__ import annotations

from datetime import date, timedelta

from town.households import Member
from town.places import School
from town.story import Story, academic_year, weekday_after

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
_NEEDS = {
    "SPEECH_LANGUAGE_COMMUNICATION": 22,
    "SOCIAL_EMOTIONAL_MENTAL_HEALTH": 20,
    "MODERATE_LEARNING_DIFFICULTY": 16,
    "AUTISM": 14,
    "SPECIFIC_LEARNING_DIFFICULTY": 12,
    "PHYSICAL_DISABILITY": 3,
    "HEARING_IMPAIRMENT": 2,
    "VISION_IMPAIRMENT": 1,
    "SEVERE_LEARNING_DIFFICULTY": 3,
    "PROFOUND_MULTIPLE_LEARNING_DIFFICULTY": 1,
    "MULTI_SENSORY_IMPAIRMENT": 0.5,
    "NO_SPECIALIST_ASSESSMENT": 3,
    "OTHER": 3,
}
_SUSPENSIONS = (
    "Persistent disruptive behaviour",
    "Verbal abuse or threatening behaviour against an adult",
    "Physical assault against a pupil",
    "Verbal abuse or threatening behaviour against a pupil",
    "Use or threat of use of an offensive weapon or prohibited item",
    "Damage",
    "Drug and alcohol related",
    "Bullying",
    "Abuse against sexual orientation or gender identity",
)
_LANDLORDS = ("Exe Valley Homes", "Tamar Housing Association", "Moorland Homes", "Coastline Housing Trust")
_ASB = (
    "Noise nuisance",
    "Verbal abuse",
    "Drug-related activity",
    "Criminal damage",
    "Harassment",
    "Vehicle nuisance",
)


def concerned(story: Story) -> bool:
    return bool(story.flags & {"da", "neglect"})


# --- health -----------------------------------------------------------------------------------------------


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
        care_coordinator_role="Community mental health team care coordinator",
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


# --- education --------------------------------------------------------------------------------------------


def education(story: Story) -> None:
    year = story.academic_year_start()
    town = story.home.town
    primary, secondary = story.rng.choice(town.primaries), story.rng.choice(town.secondaries)
    pupils = []
    for kid in story.children():
        aug31 = date(year, 8, 31)
        group = aug31.year - kid.dob.year - ((kid.dob.month, kid.dob.day) > (8, 31)) - 4
        if group < 0 or (group > 11 and not story.chance(0.4)):
            continue  # not yet at school, or at college rather than a school sixth form
        reception = year - group
        kid.upn = story.b.ids.upn(primary.la_code, primary.estab, reception)
        kid.school = primary if group <= 6 else secondary
        kid.year_group = group
        kid.admitted = date(reception if group <= 6 else reception + 7, 9, 1)
        pupils.append(kid)
        _attendance(story, kid, year, primary)
        _sen(story, kid, year)
        _exclusions(story, kid)
    if pupils:
        for adult in story.adults():
            if adult.parent:
                adult.known.add("education")  # the school's contacts for its pupils
        absent = story.home.absent_parent
        if absent is not None and story.chance(0.5):
            absent.known.add("education")


def _school_days(start: date, end: date) -> int:
    weeks, rest = divmod(max(0, (end - start).days), 7)
    return weeks * 5 + sum(1 for d in range(rest) if (start + timedelta(days=d)).weekday() < 5)


def _attendance(story: Story, kid: Member, year: int, before: School) -> None:
    """This year's attendance so far and last year's, at the school the child was at then."""
    troubled = concerned(story)
    home_educated = story.chance(0.01)
    missing = story.chance(0.03 if "neglect" in story.flags else 0.002)
    for start, current in ((year - 1, False), (year, True)):
        if (not current and kid.year_group == 0) or (current and story.today < date(year, 9, 8)):
            continue  # not yet at school last year, or this year has barely begun
        school = kid.school if current or kid.year_group != 7 else before
        assert school is not None  # noqa: S101 - the caller sets it
        if current:
            # Term time only: about 8% of weekdays from September to now are holidays.
            possible = max(2, int(_school_days(date(year, 9, 1), story.today) * 2 * 0.92))
        else:
            possible = 2 * story.rng.randint(185, 190)
        mean, sd = (84.0, 10.0) if troubled else (95.0, 3.5)
        percent = max(20.0, min(100.0, story.rng.gauss(mean, sd)))
        if missing and current:
            percent = min(percent, story.rng.uniform(20, 60))
        absent = round(possible * (100 - percent) / 100)
        unauthorised = round(
            absent * (story.rng.uniform(0.4, 0.8) if troubled else story.rng.uniform(0.1, 0.35))
        )
        left = story.between(date(year, 9, 1), story.today) if home_educated and current else None
        recorded = story.today if current else date(start + 1, 7, 22)
        story.add(
            "education",
            kid,
            "education_attendance.attendance",
            recorded,
            school_name=school.name,
            school_urn=school.urn,
            academic_year=academic_year(start),
            attendance_percent=round(percent, 1),
            possible_sessions=possible,
            unauthorised_absence_sessions=unauthorised,
            persistent_absence=percent < 90,
            severe_absence=percent < 50,
            children_missing_education=missing and current,
            elective_home_education=bool(left),
            on_roll_from=kid.admitted,
            on_roll_to=left,
        )
    if missing:
        begun = story.ago(10, 120)
        story.add(
            "education",
            kid,
            "education_attendance.missing_episodes",
            begun,
            episode_type="CHILD_MISSING_EDUCATION",
            start_date=begun,
            end_date=None,
            notes="Not seen at school or at home visit; LA children missing education officer informed",
        )


def _sen(story: Story, kid: Member, year: int) -> None:
    roll = story.rng.random() * (0.7 if concerned(story) else 1.0) * (0.8 if kid.sex == "MALE" else 1.2)
    if roll >= 0.18:
        return
    status = "EHCP" if roll < 0.045 else "SEN_SUPPORT"
    need = story.pick(_NEEDS)
    ehcp = story.between(kid.admitted or kid.dob, story.today) if status == "EHCP" else None
    story.add(
        "education",
        kid,
        "education_sen_exclusions.sen",
        ehcp or date(year, 9, 1),
        sen_status=status,
        primary_need=need,
        ehcp_start_date=ehcp,
        school_name=kid.school.name if kid.school else None,
        academic_year=academic_year(year),
    )


def _exclusions(story: Story, kid: Member) -> None:
    secondary = (kid.year_group or 0) >= 7
    rate = (0.25 if concerned(story) else 0.05) if secondary else (0.05 if concerned(story) else 0.01)
    if not story.chance(rate):
        return
    school = kid.school.name if kid.school else None
    for _ in range(story.rng.choice((1, 1, 2, 3))):
        day = story.ago(5, 600, after=kid.admitted)
        story.add(
            "education",
            kid,
            "education_sen_exclusions.exclusions",
            day,
            exclusion_type="SUSPENSION",
            start_date=day,
            days=story.rng.choice((0.5, 1.0, 1.0, 2.0, 3.0, 5.0)),
            reason=story.rng.choice(_SUSPENSIONS),
            school_name=school,
        )
    if secondary and story.chance(0.05 if concerned(story) else 0.01):
        day = story.ago(5, 300, after=kid.admitted)
        story.add(
            "education",
            kid,
            "education_sen_exclusions.exclusions",
            day,
            exclusion_type="PERMANENT",
            start_date=day,
            days=None,
            reason=story.rng.choice(_SUSPENSIONS[:5]),
            school_name=school,
        )


def encompass(story: Story, incident_ref: str, day: date) -> None:
    """The police tell each pupil's school of a domestic abuse incident before the next school day."""
    for kid in story.children():
        if kid.school is not None:
            told = weekday_after(day)
            story.add(
                "education",
                kid,
                "education_attendance.encompass_notifications",
                told,
                notification_date=told,
                incident_ref=incident_ref,
                school_name=kid.school.name,
                key_adult_role="Designated Safeguarding Lead",
            )


# --- housing ----------------------------------------------------------------------------------------------


def housing(story: Story) -> None:
    if "social_rent" not in story.flags:
        return
    adults = story.adults()
    if not adults:
        return
    lead = adults[0]
    tenure = story.pick(
        {
            "SECURE": 50,
            "ASSURED": 25,
            "INTRODUCTORY": 8,
            "FLEXIBLE": 5,
            "TEMPORARY_ACCOMMODATION": 8 if concerned(story) else 3,
            "LICENCE": 2,
        }
    )
    council = tenure in ("SECURE", "INTRODUCTORY", "FLEXIBLE", "TEMPORARY_ACCOMMODATION")
    landlord = story.home.town.authority if council else story.rng.choice(_LANDLORDS)
    start = story.ago(60, 20 * 365, after=lead.dob + timedelta(days=18 * 365))
    arrears, status = 0, "NONE"
    if story.chance(0.45 if concerned(story) else 0.28):
        arrears = story.rng.randint(2_000, 300_000)
        status = story.pick({"IN_ARREARS": 60, "ARRANGEMENT_IN_PLACE": 30, "LEGAL_ACTION": 10})
    flags = [f for f, p in (("DAMP_MOULD", 0.08), ("DISREPAIR", 0.05), ("HOARDING", 0.01)) if story.chance(p)]
    if len(story.members()) > 4 and story.chance(0.4):
        flags.append("OVERCROWDING")
    if "drugs" in story.flags:
        flags += ["DRUG_ACTIVITY", "CUCKOOING_RISK"] if story.chance(0.5) else ["DRUG_ACTIVITY"]
    if "violent" in story.flags and story.chance(0.5):
        flags.append("STAFF_SAFETY")
    for member in story.members():
        story.add(
            "housing",
            member,
            "housing.tenancies",
            start,
            tenure_type=tenure,
            tenancy_start=start,
            tenancy_end=None,
            landlord=landlord,
            lead_tenant=member is lead,
            postcode=story.home.address.postcode,
            uprn=story.home.address.uprn,
            household_size=len(story.members()),
            arrears_pence=arrears,
            arrears_status=status,
            property_flags=flags,
        )
    if status == "LEGAL_ACTION":
        served = story.ago(14, 200)
        story.add(
            "housing",
            lead,
            "housing.notices",
            served,
            notice_type="NOTICE_SEEKING_POSSESSION",
            served_date=served,
            expiry_date=served + timedelta(days=28),
            grounds="Ground 10: rent arrears",
        )
    _asb(story, lead)


def _asb(story: Story, lead: Member) -> None:
    if not story.chance(0.25 if story.flags & {"offending", "drugs"} else 0.04):
        return
    older = [m for m in story.members() if m.age(story.today) >= 12]
    alleged = story.rng.choice(older)
    for _ in range(story.rng.choice((1, 1, 2, 3))):
        day = story.ago(7, 700)
        if story.chance(0.7):
            story.add(
                "housing",
                alleged,
                "housing.asb_complaints",
                day,
                "ALLEGATION",
                complaint_date=day,
                complaint_type=story.rng.choice(_ASB),
                subject_role="ALLEGED_PERPETRATOR",
                outcome=story.rng.choice(
                    ("Warning letter", "Acceptable behaviour contract", "No further action", None)
                ),
            )
        else:
            story.add(
                "housing",
                lead,
                "housing.asb_complaints",
                day,
                complaint_date=day,
                complaint_type=story.rng.choice(_ASB),
                subject_role="VICTIM",
                outcome="Case opened; neighbour spoken to",
            )
    if "drugs" in story.flags and story.chance(0.2):
        served = story.ago(7, 300)
        story.add(
            "housing",
            lead,
            "housing.notices",
            served,
            notice_type="CLOSURE_ORDER" if story.chance(0.3) else "INJUNCTION",
            served_date=served,
            expiry_date=served + timedelta(days=90),
            grounds="Anti-social behaviour: drug-related activity",
        )
