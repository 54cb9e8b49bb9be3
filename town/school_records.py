"""The schools' records of their pupils: attendance, missing episodes, SEN, suspensions and exclusions,
and Operation Encompass notifications. Parents become known to the school as its pupils' contacts."""

from __future__ import annotations

from datetime import date, timedelta

from town.households import Member
from town.places import School
from town.story import Story, academic_year, concerned, weekday_after

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
