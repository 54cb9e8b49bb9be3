"""What every scenario is built from: the types a scenario is (the household, the referral, the MASH's
steps, each subscriber's expected view) and the small helpers that make its people and records.

Dates are relative to ``today``, so a release date stays "within a month" whenever the demo runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from town.deployment import SUBSCRIBERS
from town.ids import make_nhs, make_pnc, make_upn
from town.model import Address, Held, Household, Person, Relationship, Spelling

# The subscribers the scenarios' expectations talk about by name; the deployment names them all.
CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"
HOURS = {"RED": 4.0, "AMBER": 24.0, "GREEN": 72.0, "UNKNOWN": 72.0}  # the hub's default timescales


@dataclass(frozen=True)
class Expect:
    """What one subscriber's view must show once the scenario has run."""

    sees: frozenset[str]
    withheld: Mapping[str, str]  # category -> the rule that withheld every section of it
    flags: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Step:
    """What the MASH does once every enquiry is answered: a decision or a consent record, via the API."""

    path: Literal["decision", "consent"]
    body: dict[str, Any]


@dataclass(frozen=True)
class ScenarioSubject:
    """A person the referral is about, as the referrer gives them."""

    ref: str
    person: str  # Person.key
    role: str
    # What the referrer gives; None means the person's legal name. Identifiers only if the referrer has them.
    given_names: str | None = None
    family_name: str | None = None
    ids: tuple[Literal["nhs", "upn", "pnc"], ...] = ()


@dataclass(frozen=True)
class Scenario:
    key: str
    title: str
    story: str
    household: Household
    subjects: tuple[ScenarioSubject, ...]
    concerns: tuple[str, ...]
    source_type: str
    rag: str
    summary: str
    referrer: dict[str, Any] | None
    assign: tuple[str, ...]
    expect: Mapping[str, Expect]
    steps: tuple[Step, ...] = ()
    purpose: str = "TRIAGE"  # of the enquiries
    extra_sensitive: tuple[str, ...] = field(default=())  # personal data not on a Person (the referrer)

    def person(self, key: str) -> Person:
        return next(p for p in self.household.people if p.key == key)

    def referral(self) -> dict[str, Any]:
        """The body of ``POST /referrals`` for this scenario."""
        subjects = []
        for s in self.subjects:
            p = self.person(s.person)
            body: dict[str, Any] = {
                "subject_ref": s.ref,
                "role": s.role,
                "given_names": s.given_names or p.given_names,
                "family_name": s.family_name or p.family_name,
                "dob": p.dob.isoformat(),
                "postcode": p.address.postcode,
            }
            body.update({i: getattr(p, i) for i in s.ids})
            subjects.append(body)
        out: dict[str, Any] = {
            "subjects": subjects,
            "concerns": list(self.concerns),
            "source_type": self.source_type,
            "rag": self.rag,
            "summary": self.summary,
        }
        if self.referrer is not None:
            out["referrer"] = self.referrer
        return out

    @property
    def deadline_hours(self) -> float:
        return HOURS[self.rag]

    @property
    def unassigned(self) -> tuple[str, ...]:
        return tuple(s for s in SUBSCRIBERS if s not in self.assign)


class Ids:
    """Identifiers for the scenario people: valid check digits, from a fixed seed, so every run agrees.

    One instance serves every scenario in turn, so the order the people are made in is part of the data.
    """

    def __init__(self) -> None:
        self.rng = random.Random("jigsaw-scenarios")  # noqa: S311 - synthetic data, seeded on purpose
        self.seen: set[str] = set()

    def _fresh(self, make: Callable[[], str]) -> str:
        while True:
            value = str(make())
            if value not in self.seen:
                self.seen.add(value)
                return value

    def nhs(self) -> str:
        return self._fresh(lambda: make_nhs(self.rng))

    def upn(self, year: int) -> str:
        return self._fresh(lambda: make_upn(self.rng, 878, 2000 + self.rng.randrange(500), year % 100))

    def pnc(self, year: int) -> str:
        return self._fresh(lambda: make_pnc(self.rng, year))


def born(today: date, years: int, days: int) -> date:
    return today.replace(year=today.year - years) - timedelta(days=days)


def person(
    ids: Ids,
    key: str,
    given: str,
    family: str,
    dob: date,
    sex: Literal["MALE", "FEMALE"],
    address: Address,
    known_to: set[str],
    *,
    school: bool = False,
    police: bool = False,
    spellings: dict[str, Spelling] | None = None,
) -> Person:
    """A scenario person; everyone is registered with a GP, so everyone is known to health."""
    return Person(
        key=key,
        given_names=given,
        family_name=family,
        dob=dob,
        sex=sex,
        address=address,
        nhs=ids.nhs(),
        upn=ids.upn(dob.year + 5) if school else None,
        pnc=ids.pnc(dob.year + 18 if dob.year + 18 < 2026 else 2025) if police else None,
        known_to=frozenset(known_to) | {"health"},
        spellings=spellings or {},
    )


def contact(agency: str, who: str, today: date, team: str, phone: str, open_: bool) -> Held:
    return Held(
        agency,
        who,
        "contact",
        {
            "known": True,
            "agency": agency,
            "currently_open": open_,
            "contact_team": team,
            "contact_role": "Duty officer",
            "contact_phone": phone,
            "contact_email": None,
            "last_involvement": today - timedelta(days=20),
        },
        today - timedelta(days=20),
    )


def gp(who: str, today: date, practice: str, since_years: int) -> Held:
    return Held(
        "health",
        who,
        "health_summary.gp_registrations",
        {
            "practice_name": practice,
            "practice_code": "L83001",
            "registered_since": today.replace(year=today.year - since_years),
            "registered_until": None,
        },
        today - timedelta(days=400),
    )


def attendance(who: str, today: date, school: str, pct: float, unauth: int) -> Held:
    year = today.year if today.month >= 9 else today.year - 1
    return Held(
        "education",
        who,
        "education_attendance.attendance",
        {
            "school_name": school,
            "school_urn": "113500",
            "academic_year": f"{year}/{(year + 1) % 100:02d}",
            "attendance_percent": pct,
            "possible_sessions": 120,
            "unauthorised_absence_sessions": unauth,
            "persistent_absence": pct < 90.0,
            "severe_absence": pct < 50.0,
            "children_missing_education": False,
            "elective_home_education": False,
            "on_roll_from": date(year, 9, 4),
            "on_roll_to": None,
        },
        today - timedelta(days=3),
    )


def rel(a: str, b: str, what: str, pr: bool | None = None, lives: bool = True) -> Relationship:
    return Relationship(a, b, what, lives_with=lives, parental_responsibility=pr)


def withheld(**rules: str) -> Mapping[str, str]:
    """Category -> the rule expected to withhold every section of it."""
    return dict(rules)
