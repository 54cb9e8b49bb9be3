"""What every scenario is built from: the types a scenario is (the household, the referral, the MASH's
steps, each subscriber's expected view and why) and the small helpers that make its people and records.

Dates are relative to ``today``, so a release date stays "within a month" whenever the demo runs.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from town.deployment import AGENCIES, SUBSCRIBERS
from town.ids import make_nhs, make_pnc, make_upn
from town.model import Address, Held, Household, Person, Relationship, Spelling

# The subscribers the scenarios' expectations talk about by name; the deployment names them all.
CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"
# The hub's default timescales, in working hours. An unrated contact is the most urgent until rated.
HOURS = {"RED": 4.0, "AMBER": 24.0, "GREEN": 72.0, "UNKNOWN": 4.0}


# Agencies whose involvement is itself a fact (the agreement's participant ``reveals``: known to probation
# at all is probation's fact): a desk that may not know it is never told that they answered.
UNTOLD = frozenset({"probation", "youthjustice"})


@dataclass(frozen=True)
class Expect:
    """What one subscriber's view must show once the scenario has run, and why (the rule and its source)."""

    sees: frozenset[str]
    # category -> the rule that withheld every section of it (or the rules, where sections differ)
    withheld: Mapping[str, str | tuple[str, ...]]
    flags: frozenset[str] = frozenset()
    # The categories released to it as late information (after the outcome), and no others.
    late: frozenset[str] = frozenset()
    why: str = ""
    # The agencies whose answers it must never be told of (their enquiries stay unanswered in its view).
    not_told: frozenset[str] = frozenset()

    def rules(self, category: str) -> frozenset[str]:
        rule = self.withheld[category]
        return frozenset({rule} if isinstance(rule, str) else rule)


@dataclass(frozen=True)
class Step:
    """What the MASH does once the referral's enquiries are answered, through the front door's API: a
    decision, a strategy discussion (whose enquiries go to every agency again), a consent record, an
    assignment (a desk brought in mid-way), a subject added mid-way (whose enquiries go to
    ``body["agencies"]``, else to every agency).

    ``after_decision``: taken only once the front door's view shows the outcome decided by an earlier step,
    so that what it brings (a subject added, and the agencies' answers about them) comes after the decision:
    late information. ``enquiry_purpose``: the purpose the step's enquiries are for.
    """

    path: Literal[
        "decision", "strategy-discussion", "consent", "assignments", "subjects", "confidential-address", "rag"
    ]
    body: dict[str, Any]
    after_decision: bool = False
    enquiry_purpose: str | None = None

    @property
    def agencies(self) -> tuple[str, ...]:
        """The agencies the step sends enquiries to: those asked about a subject added (every agency unless
        it names them), and every agency again when a strategy discussion is convened (for the s47 picture
        an unrated contact was never asked for); none for any other step."""
        if self.path == "subjects":
            return tuple(self.body.get("agencies") or AGENCIES)
        return AGENCIES if self.path == "strategy-discussion" else ()


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
    # The referrer says the person's address is confidential (a refuge): a marker from intake on.
    confidential_address: bool = False


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
    # Decided at intake: a professional cannot refer anonymously; a member of the public is protected.
    # Unset, the front door takes the referrer's own say, else the source's.
    referrer_type: Literal["PROFESSIONAL", "PUBLIC"] | None = None
    referrer_anonymity_from_family: bool | None = None  # a professional's wish, about the family only
    immediate_risk: bool | None = None  # the referrer's view: the most urgent timescale, whatever the RAG
    parents_aware: bool | None = None
    child_voice: str | None = None  # the child's own words, sealed in referral_details
    # The household is another scenario's (a re-referral): the town writes it once.
    shares_household: bool = False
    # Who is assigned when the referral is opened, if not every subscriber of ``assign`` (the others are
    # brought in by a step, as a strategy discussion brings in the police and health desks).
    initial_assign: tuple[str, ...] | None = None

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
            if s.confidential_address:
                body["confidential_address"] = True
            subjects.append(body)
        out: dict[str, Any] = {
            "subjects": subjects,
            "concerns": list(self.concerns),
            "source_type": self.source_type,
            "rag": self.rag,
            "summary": self.summary,
        }
        optional = {
            "referrer_type": self.referrer_type,
            "referrer": self.referrer,
            "referrer_anonymity_from_family": self.referrer_anonymity_from_family,
            "immediate_risk": self.immediate_risk,
            "parents_aware": self.parents_aware,
            "child_voice": self.child_voice,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out

    @property
    def deadline_hours(self) -> float:
        """The enquiries' timescale: the rating's, or the most urgent while unrated or at immediate risk."""
        return HOURS["RED"] if self.immediate_risk else HOURS[self.rag]

    @property
    def outcome(self) -> str | None:
        """The outcome the MASH's steps decide, if any."""
        return next((s.body["outcome"] for s in self.steps if s.path == "decision"), None)

    @property
    def enquiries(self) -> list[tuple[str, str]]:
        """(agency, purpose) of every enquiry the referral's view must show: the referral's own to every
        agency, then those about each subject added."""
        out = [(a, self.purpose) for a in AGENCIES]
        for step in self.steps:
            out += [(a, step.enquiry_purpose or self.purpose) for a in step.agencies]
        return out

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
    confidential: bool = False,
) -> Person:
    """A scenario person; everyone is registered with a GP, so everyone is known to health.
    ``confidential``: they have fled, and their health record carries a confidential-address marker."""
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
        confidential_address=confidential,
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


def withheld(**rules: str | tuple[str, ...]) -> Mapping[str, str | tuple[str, ...]]:
    """Category -> the rule expected to withhold every section of it (or the rules, where they differ)."""
    return dict(rules)
