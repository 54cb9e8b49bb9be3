"""The six scenarios (seven referrals: early help has a variant the family refuses), as data.

Each scenario is a household written into the agencies' systems like any other, a referral as the MASH
receives it (names as the referrer gives them, which the agencies hold spelled their own way), what the
MASH does once the returns are in, and what each subscriber's view must then show: the categories it
sees, each category withheld from it with the rule that withheld it, and the derived flags. Dates are
relative to ``today``, so a release date stays "within a month" whenever the demo runs.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Literal

from connectors.sdk.identifiers import make_nhs, make_pnc, make_upn
from town.model import Address, Held, Household, Person, Relationship, Spelling

CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"
SUBSCRIBERS = (CSC, POLICE, HEALTH, PARTNER)
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
class Subject:
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
    subjects: tuple[Subject, ...]
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


# --- helpers ------------------------------------------------------------------------------------------------
_ALL_AGENCIES = frozenset(
    {"police", "health", "education", "socialcare", "probation", "youthjustice", "housing"}
)


def _born(today: date, years: int, days: int) -> date:
    return today.replace(year=today.year - years) - timedelta(days=days)


class _Ids:
    """Identifiers for the scenario people: valid check digits, from a fixed seed, so every run agrees."""

    def __init__(self) -> None:
        self.rng = random.Random("jigsaw-scenarios")  # noqa: S311 - synthetic data, seeded on purpose
        self.seen: set[str] = set()

    def _fresh(self, make: Any) -> str:
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


def _person(
    ids: _Ids,
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


def _contact(agency: str, person: str, today: date, team: str, phone: str, open_: bool) -> Held:
    return Held(
        agency,
        person,
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


def _gp(person: str, today: date, practice: str, since_years: int) -> Held:
    return Held(
        "health",
        person,
        "health_summary.gp_registrations",
        {
            "practice_name": practice,
            "practice_code": "L83001",
            "registered_since": today.replace(year=today.year - since_years),
            "registered_until": None,
        },
        today - timedelta(days=400),
    )


def _attendance(person: str, today: date, school: str, pct: float, unauth: int) -> Held:
    year = today.year if today.month >= 9 else today.year - 1
    return Held(
        "education",
        person,
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


def _rel(a: str, b: str, what: str, pr: bool | None = None, lives: bool = True) -> Relationship:
    return Relationship(a, b, what, lives_with=lives, parental_responsibility=pr)


def _full(**withheld: str) -> Mapping[str, str]:
    return dict(withheld)


# --- the scenarios ----------------------------------------------------------------------------------------
def bike_theft(today: date, ids: _Ids) -> Scenario:
    home = Address(("14 Wyndham Road",), "Exeter", "EX4 6DR", "100040212014")
    child = _person(
        ids,
        "bike.child",
        "Tyler",
        "Brennan",
        _born(today, 12, 75),
        "MALE",
        home,
        {"police", "education"},
        school=True,
    )
    father = _person(
        ids,
        "bike.father",
        "Craig",
        "Brennan",
        _born(today, 38, 201),
        "MALE",
        Address(("HMP Exeter", "30 New North Road"), "Exeter", "EX4 4EX"),
        {"police", "probation"},
        police=True,
        spellings={"probation": Spelling("Craig Anthony", "Brenan")},
    )
    mother = _person(
        ids,
        "bike.mother",
        "Kerry",
        "Brennan",
        _born(today, 35, 40),
        "FEMALE",
        home,
        {"education"},
        spellings={"health": Spelling("Kerry-Ann", "Brennan")},
    )
    held = [
        Held(
            "police",
            child.key,
            "police_incidents",
            {
                "incident_ref": "DC-26-118743",
                "incident_date": today - timedelta(days=6),
                "incident_type": "Theft of a pedal cycle",
                "subject_role": "SUSPECT",
                "child_present": None,
                "domestic_abuse": False,
                "summary": "Bicycle taken from outside a newsagent; identified on CCTV",
                "location_postcode": "EX4 6PX",
                "ppn_submitted": True,
            },
            today - timedelta(days=6),
            "ALLEGATION",
        ),
        _contact("police", child.key, today, "Exeter neighbourhood team", "01392 452000", True),
        Held(
            "police",
            father.key,
            "police_convictions.disposals",
            {
                "disposal_type": "CONVICTION",
                "offence": "Burglary of a dwelling",
                "offence_code": "TH68010",
                "offence_category": "ACQUISITIVE",
                "offence_date": today - timedelta(days=700),
                "disposal_date": today - timedelta(days=560),
                "outcome": "Imprisonment 36 months",
                "court": "Exeter Crown Court",
                "spent": False,
            },
            today - timedelta(days=560),
        ),
        Held(
            "probation",
            father.key,
            "probation",
            {
                "mappa_category": None,
                "mappa_level": None,
                "custody_status": "IN_CUSTODY",
                "release_date": today + timedelta(days=19),
                "sentence_end_date": today + timedelta(days=560),
                "offence_type": "Burglary",
                "registered_sex_offender": False,
                "rosh_level": "MEDIUM",
                "rosh_to_children": "LOW",
                "licence_conditions": [
                    "Reside at an address approved by the probation practitioner",
                    "Curfew 19:00 to 07:00 with electronic monitoring",
                    "Attend all supervision appointments",
                ],
                "approved_premises": None,
                "exclusion_zones": [],
                "offender_manager_role": "Probation officer",
            },
            today - timedelta(days=30),
        ),
        _contact("probation", father.key, today, "Exeter probation delivery unit", "01392 421100", True),
        Held(
            "health",
            mother.key,
            "mental_health.episodes",
            {
                "service": "ADULT_MENTAL_HEALTH",
                "engagement": "DISENGAGED",
                "diagnosis_summary": "Depression and anxiety",
                "open_date": today - timedelta(days=300),
                "discharge_date": None,
                "care_coordinator_role": "Community psychiatric nurse",
                "risk_to_self": False,
                "risk_to_others": False,
                "risk_notes": "Missed the last three appointments",
            },
            today - timedelta(days=14),
        ),
        _gp(child.key, today, "Wonford Green Surgery", 10),
        _attendance(child.key, today, "Isca Academy", 93.4, 4),
        _contact("education", child.key, today, "Isca Academy safeguarding lead", "01392 204080", True),
    ]
    household = Household(
        "bike",
        [child, father, mother],
        [_rel(child.key, mother.key, "MOTHER", True), _rel(child.key, father.key, "FATHER", True, False)],
        held,
    )
    csc_sees = {
        "identity",
        "contact",
        "referral_details",
        "police_incidents",
        "police_convictions",
        "probation",
        "mental_health",
        "health_summary",
        "education_attendance",
    }
    return Scenario(
        key="bike-theft",
        title="Bike theft",
        story="Police refer a 12-year-old suspected of stealing a bike. His father is due out of prison "
        "within the month; his mother has stopped engaging with adult mental health.",
        household=household,
        subjects=(
            Subject("S1", child.key, "CHILD", given_names="Tyler", family_name="Brennan"),
            Subject("S2", father.key, "PARENT", ids=("pnc",)),
            Subject("S3", mother.key, "PARENT"),
        ),
        concerns=("CRIMINAL_EXPLOITATION", "PARENTAL_MENTAL_HEALTH"),
        source_type="POLICE",
        rag="AMBER",
        summary="Child identified on CCTV taking a bicycle. Officers noted the home was cold and the child "
        "said he was often out late. Father believed to be in prison.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect={
            CSC: Expect(
                frozenset(csc_sees),
                {},
                frozenset({"release_within_28_days", "parental_mental_health"}),
            ),
            POLICE: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "police_incidents",
                        "police_convictions",
                        "probation",
                    }
                ),
                _full(
                    mental_health="DEFAULT-DENY",
                    health_summary="DEFAULT-DENY",
                    education_attendance="DEFAULT-DENY",
                ),
                frozenset({"release_within_28_days"}),
            ),
            HEALTH: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "mental_health",
                        "health_summary",
                        "education_attendance",
                    }
                ),
                _full(
                    police_incidents="DEFAULT-DENY",
                    police_convictions="DEFAULT-DENY",
                    probation="SYS-ORIGINATOR",
                ),
                frozenset({"parental_mental_health"}),
            ),
        },
    )


def drug_house(today: date, ids: _Ids) -> Scenario:
    flat = Address(("Flat 4, Carrick House", "Sidwell Street"), "Exeter", "EX4 6NN", "100040219954")
    mother = _person(
        ids,
        "drug.mother",
        "Leanne",
        "Pascoe",
        _born(today, 33, 12),
        "FEMALE",
        flat,
        {"police", "housing", "education"},
        police=True,
        spellings={"housing": Spelling("Leanne", "Pascoe-Hill"), "police": Spelling("Pascoe", "Leanne")},
    )
    teen = _person(
        ids,
        "drug.teen",
        "Jayden",
        "Pascoe",
        _born(today, 14, 100),
        "MALE",
        flat,
        {"education", "police"},
        school=True,
    )
    girl = _person(
        ids,
        "drug.girl",
        "Maisie",
        "Pascoe",
        _born(today, 9, 210),
        "FEMALE",
        flat,
        {"education"},
        school=True,
        spellings={"education": Spelling("Maise", "Pascoe")},
    )
    held = [
        Held(
            "housing",
            mother.key,
            "housing.tenancies",
            {
                "tenure_type": "SECURE",
                "tenancy_start": today - timedelta(days=1400),
                "tenancy_end": None,
                "landlord": "Exeter City Council",
                "lead_tenant": True,
                "postcode": flat.postcode,
                "uprn": flat.uprn,
                "household_size": 3,
                "arrears_pence": 84250,
                "arrears_status": "IN_ARREARS",
                "property_flags": ["DRUG_ACTIVITY", "CUCKOOING_RISK"],
            },
            today - timedelta(days=10),
        ),
        *(
            Held(
                "housing",
                mother.key,
                "housing.asb_complaints",
                {
                    "complaint_date": today - timedelta(days=d),
                    "complaint_type": what,
                    "subject_role": "ALLEGED_PERPETRATOR",
                    "outcome": outcome,
                },
                today - timedelta(days=d),
                "ALLEGATION",
            )
            for d, what, outcome in (
                (41, "Visitors at all hours", "Warning letter"),
                (19, "Drug paraphernalia in stairwell", "Referred to police"),
                (3, "Noise and visitors through the night", None),
            )
        ),
        _contact("housing", mother.key, today, "Exeter tenancy services", "01392 665000", True),
        Held(
            "police",
            mother.key,
            "police_intelligence",
            {
                "source_evaluation": "SOURCE_2_UNTESTED",
                "intelligence_assessment": "C_KNOWN_INDIRECTLY",
                "handling_code": "C_SHARING_WITH_CONDITIONS",
                "handling_conditions": "Not to be disclosed to the subject",
                "intelligence_date": today - timedelta(days=12),
                "summary": "Flat believed to be used to store and sell class A drugs by an out-of-area line",
                "themes": ["DRUG_SUPPLY", "COUNTY_LINES", "CUCKOOING"],
                "subject_role": "AT_RISK",
                "linked_address_postcode": flat.postcode,
                "linked_subject_refs": [],
            },
            today - timedelta(days=12),
            "ALLEGATION",
        ),
        Held(
            "police",
            mother.key,
            "police_incidents",
            {
                "incident_ref": "DC-26-120311",
                "incident_date": today - timedelta(days=2),
                "incident_type": "Anti-social behaviour",
                "subject_role": "OTHER",
                "child_present": True,
                "domestic_abuse": False,
                "summary": "Call from a neighbour about visitors and shouting",
                "location_postcode": flat.postcode,
                "ppn_submitted": True,
            },
            today - timedelta(days=2),
        ),
        _contact("police", mother.key, today, "Exeter neighbourhood team", "01392 452000", True),
        _attendance(teen.key, today, "St Luke's Science and Sports College", 71.5, 31),
        *(
            Held(
                "education",
                teen.key,
                "education_attendance.missing_episodes",
                {
                    "episode_type": "MISSING_FROM_SCHOOL",
                    "start_date": today - timedelta(days=d),
                    "end_date": today - timedelta(days=d - 1),
                    "notes": "Left site at lunchtime",
                },
                today - timedelta(days=d),
            )
            for d in (33, 9)
        ),
        _attendance(girl.key, today, "Ladysmith Junior School", 88.0, 12),
        _contact("education", teen.key, today, "St Luke's safeguarding lead", "01392 204000", True),
        Held(
            "health",
            teen.key,
            "health_summary.emergency_attendances",
            {
                "attendance_date": today - timedelta(days=16),
                "reason": "Laceration to the hand",
                "site": "Royal Devon and Exeter Hospital",
                "injury": True,
                "safeguarding_concern_raised": True,
                "admitted": False,
            },
            today - timedelta(days=16),
        ),
        _gp(girl.key, today, "St Thomas Health Centre", 8),
    ]
    household = Household(
        "drug",
        [mother, teen, girl],
        [_rel(teen.key, mother.key, "MOTHER", True), _rel(girl.key, mother.key, "MOTHER", True)],
        held,
    )
    return Scenario(
        key="drug-house",
        title="Drug house",
        story="An anti-social-behaviour call to a council flat where two children live. Housing, police, "
        "the school and the hospital each hold a piece.",
        household=household,
        subjects=(
            Subject("S1", teen.key, "CHILD"),
            Subject("S2", girl.key, "SIBLING"),
            Subject("S3", mother.key, "PARENT"),
        ),
        concerns=("CRIMINAL_EXPLOITATION", "NEGLECT", "SUBSTANCE_MISUSE"),
        source_type="POLICE",
        rag="RED",
        summary="Neighbour reports constant visitors to the flat day and night; two children live there. "
        "Officers attending found the older child absent from school.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect={
            CSC: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "housing",
                        "police_intelligence",
                        "police_incidents",
                        "education_attendance",
                        "health_summary",
                    }
                ),
                {},
                frozenset({"drug_supply_address"}),
            ),
            POLICE: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "housing",
                        "police_intelligence",
                        "police_incidents",
                    }
                ),
                _full(education_attendance="DEFAULT-DENY", health_summary="DEFAULT-DENY"),
                frozenset({"drug_supply_address"}),
            ),
            HEALTH: Expect(
                frozenset(
                    {"identity", "contact", "referral_details", "education_attendance", "health_summary"}
                ),
                _full(
                    housing="DEFAULT-DENY",
                    police_intelligence="DEFAULT-DENY",
                    police_incidents="DEFAULT-DENY",
                ),
            ),
        },
    )


def sex_offender(today: date, ids: _Ids) -> Scenario:
    home = Address(("7 Ferndale Close",), "Paignton", "TQ3 2LX", "100040533107")
    mother = _person(ids, "rso.mother", "Gemma", "Tozer", _born(today, 29, 77), "FEMALE", home, {"education"})
    girl = _person(
        ids,
        "rso.girl",
        "Ellie",
        "Tozer",
        _born(today, 7, 30),
        "FEMALE",
        home,
        {"education"},
        school=True,
        spellings={"health": Spelling("Eleanor", "Tozer")},
    )
    boy = _person(ids, "rso.boy", "Harvey", "Tozer", _born(today, 4, 150), "MALE", home, set())
    offender = _person(
        ids,
        "rso.offender",
        "Martin",
        "Kellow",
        _born(today, 46, 5),
        "MALE",
        Address(("22 Dartmouth Road",), "Paignton", "TQ4 5AB"),
        {"police", "probation"},
        police=True,
    )
    held = [
        Held(
            "probation",
            offender.key,
            "probation",
            {
                "mappa_category": "CATEGORY_1",
                "mappa_level": "LEVEL_2",
                "custody_status": "ON_LICENCE",
                "release_date": today - timedelta(days=240),
                "sentence_end_date": today + timedelta(days=900),
                "offence_type": "Sexual offence against a child",
                "registered_sex_offender": True,
                "rosh_level": "HIGH",
                "rosh_to_children": "HIGH",
                "licence_conditions": [
                    "Disclose any developing relationship with a woman with children",
                    "No unsupervised contact with any child under 18",
                ],
                "approved_premises": None,
                "exclusion_zones": ["Primary schools in Torbay"],
                "offender_manager_role": "Probation officer (MAPPA lead)",
            },
            today - timedelta(days=2),
        ),
        _contact("probation", offender.key, today, "Torbay probation delivery unit", "01803 213500", True),
        Held(
            "police",
            offender.key,
            "police_convictions.disposals",
            {
                "disposal_type": "CONVICTION",
                "offence": "Sexual activity with a child",
                "offence_code": "SX03010",
                "offence_category": "SEXUAL",
                "offence_date": today - timedelta(days=2600),
                "disposal_date": today - timedelta(days=2400),
                "outcome": "Imprisonment 6 years; notification requirements indefinitely",
                "court": "Exeter Crown Court",
                "spent": False,
            },
            today - timedelta(days=2400),
        ),
        _contact("police", offender.key, today, "Torbay MOSOVO team", "01803 841300", True),
        Held(
            "health",
            boy.key,
            "health_summary.community_contacts",
            {
                "service": "HEALTH_VISITING",
                "contact_date": today - timedelta(days=21),
                "contact_type": "4-year review",
                "attendance": "ATTENDED",
                "concerns": "Mother mentioned a new partner staying most nights",
            },
            today - timedelta(days=21),
        ),
        _attendance(girl.key, today, "Oldway Primary School", 96.1, 0),
        _gp(girl.key, today, "Parkside Surgery", 7),
    ]
    household = Household(
        "rso",
        [mother, girl, boy, offender],
        [
            _rel(girl.key, mother.key, "MOTHER", True),
            _rel(boy.key, mother.key, "MOTHER", True),
            _rel(girl.key, offender.key, "PARENTS_PARTNER", False, False),
            _rel(mother.key, offender.key, "PARTNER", None, False),
        ],
        held,
    )
    return Scenario(
        key="sex-offender",
        title="Sex offender",
        story="A registered sex offender on licence has started a relationship with a mother of two. His "
        "MAPPA record is controlled by probation: the police and children's social care may see it, the "
        "health desk may not.",
        household=household,
        subjects=(
            Subject("S1", girl.key, "CHILD"),
            Subject("S2", boy.key, "SIBLING"),
            Subject("S3", mother.key, "PARENT"),
            Subject("S4", offender.key, "HOUSEHOLD_MEMBER", ids=("pnc",)),
        ),
        concerns=("SEXUAL_ABUSE",),
        source_type="PROBATION",
        rag="RED",
        summary="Offender manager learned at supervision that he has been staying at the home of a woman "
        "with two young children. He did not disclose the relationship.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect={
            CSC: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "probation",
                        "police_convictions",
                        "health_summary",
                        "education_attendance",
                    }
                ),
                {},
                frozenset({"sex_offender_in_contact"}),
            ),
            POLICE: Expect(
                frozenset({"identity", "contact", "referral_details", "probation", "police_convictions"}),
                _full(health_summary="DEFAULT-DENY", education_attendance="DEFAULT-DENY"),
                frozenset({"sex_offender_in_contact"}),
            ),
            HEALTH: Expect(
                frozenset(
                    {"identity", "contact", "referral_details", "health_summary", "education_attendance"}
                ),
                _full(probation="SYS-ORIGINATOR", police_convictions="DEFAULT-DENY"),
            ),
        },
    )


def domestic_abuse(today: date, ids: _Ids) -> Scenario:
    home = Address(("31 Chapel Street",), "Tiverton", "EX16 6BU", "100040601831")
    victim = _person(
        ids, "da.mother", "Sophie", "Marsh", _born(today, 27, 160), "FEMALE", home, {"police", "education"}
    )
    partner = _person(
        ids,
        "da.partner",
        "Ryan",
        "Coles",
        _born(today, 30, 300),
        "MALE",
        home,
        {"police"},
        police=True,
        spellings={"police": Spelling("Ryan", "Coles")},
    )
    boy = _person(
        ids,
        "da.boy",
        "Noah",
        "Marsh",
        _born(today, 6, 45),
        "MALE",
        home,
        {"education", "police"},
        school=True,
    )
    baby = _person(
        ids,
        "da.baby",
        "Lily",
        "Coles",
        _born(today, 0, 240),
        "FEMALE",
        home,
        set(),
        spellings={"health": Spelling("Lily Rose", "Coles")},
    )
    incidents = [(150, "DC-26-090122"), (64, "DC-26-104877"), (1, "DC-26-121905")]
    held: list[Held] = []
    for n, (d, ref) in enumerate(incidents, start=1):
        for who, role in ((victim.key, "VICTIM"), (partner.key, "SUSPECT")):
            held.append(
                Held(
                    "police",
                    who,
                    "police_incidents",
                    {
                        "incident_ref": ref,
                        "incident_date": today - timedelta(days=d),
                        "incident_type": "Domestic abuse",
                        "subject_role": role,
                        "child_present": True,
                        "domestic_abuse": True,
                        "summary": f"Domestic incident {n} of 3 at the home; children in the house",
                        "location_postcode": home.postcode,
                        "ppn_submitted": True,
                    },
                    today - timedelta(days=d),
                    "ALLEGATION" if role == "SUSPECT" else "FACT",
                )
            )
    held += [
        Held(
            "police",
            victim.key,
            "domestic_abuse.cases",
            {
                "subject_role": "VICTIM",
                "other_party_subject_ref": None,
                "dash_risk_level": "HIGH",
                "dash_score": 17,
                "dash_date": today - timedelta(days=1),
                "incident_count": 3,
                "latest_incident_date": today - timedelta(days=1),
                "children_present": True,
                "marac_referred": True,
                "marac_date": today + timedelta(days=9),
                "idva_allocated": True,
                "victim_safe_contact": None,
            },
            today - timedelta(days=1),
        ),
        Held(
            "police",
            victim.key,
            "victim_safe_contact",
            {
                "phone": "07700 900461",
                "address_lines": ["c/o Tiverton library"],
                "postcode": "EX16 6NP",
                "safe_times": "Weekdays 10:00 to 12:00",
                "contact_via": "IDVA",
                "notes": "Never call after 17:00",
            },
            today - timedelta(days=1),
        ),
        Held(
            "police",
            partner.key,
            "police_convictions.disposals",
            {
                "disposal_type": "CONVICTION",
                "offence": "Assault by beating (domestic)",
                "offence_code": "CJ88116",
                "offence_category": "DOMESTIC_ABUSE",
                "offence_date": today - timedelta(days=900),
                "disposal_date": today - timedelta(days=850),
                "outcome": "Community order with a building better relationships requirement",
                "court": "Exeter Magistrates' Court",
                "spent": False,
            },
            today - timedelta(days=850),
        ),
        _contact("police", victim.key, today, "Mid Devon public protection unit", "01884 252000", True),
        Held(
            "health",
            baby.key,
            "health_summary.community_contacts",
            {
                "service": "HEALTH_VISITING",
                "contact_date": today - timedelta(days=35),
                "contact_type": "6-8 month review",
                "attendance": "WAS_NOT_BROUGHT",
                "concerns": None,
            },
            today - timedelta(days=35),
        ),
        Held(
            "health",
            baby.key,
            "health_summary.community_contacts",
            {
                "service": "HEALTH_VISITING",
                "contact_date": today - timedelta(days=12),
                "contact_type": "Targeted home visit",
                "attendance": "ATTENDED",
                "concerns": "Mother anxious; bruising to her forearm noticed",
            },
            today - timedelta(days=12),
            "OPINION",
        ),
        Held(
            "education",
            boy.key,
            "education_attendance.encompass_notifications",
            {
                "notification_date": today,
                "incident_ref": "DC-26-121905",
                "school_name": "Wilcombe Primary",
                "key_adult_role": "Designated safeguarding lead",
            },
            today,
        ),
        _attendance(boy.key, today, "Wilcombe Primary", 94.8, 2),
    ]
    household = Household(
        "da",
        [victim, partner, boy, baby],
        [
            _rel(boy.key, victim.key, "MOTHER", True),
            _rel(boy.key, partner.key, "PARENTS_PARTNER", False),
            _rel(baby.key, victim.key, "MOTHER", True),
            _rel(baby.key, partner.key, "FATHER", True),
        ],
        held,
    )
    redacted = "SYS-REDACTED"
    return Scenario(
        key="domestic-abuse",
        title="Domestic abuse",
        story="The third domestic-abuse incident in five months with a child present: a high DASH score and "
        "a MARAC referral. The victim's safe contact details are returned, sealed, and never released.",
        household=household,
        subjects=(
            Subject("S1", boy.key, "CHILD"),
            Subject("S2", baby.key, "SIBLING"),
            Subject("S3", victim.key, "PARENT"),
            Subject("S4", partner.key, "ALLEGED_PERPETRATOR", ids=("pnc",)),
        ),
        concerns=("DOMESTIC_ABUSE",),
        source_type="POLICE",
        rag="RED",
        summary="Officers attended a third domestic incident at the address. The six-year-old was in the "
        "room and called the police himself. DASH completed: high risk.",
        referrer=None,
        assign=(CSC, POLICE, HEALTH),
        expect={
            CSC: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "police_incidents",
                        "domestic_abuse",
                        "police_convictions",
                        "health_summary",
                        "education_attendance",
                    }
                ),
                _full(victim_safe_contact=redacted),
                frozenset({"repeat_domestic_abuse_child_present"}),
            ),
            POLICE: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "police_incidents",
                        "domestic_abuse",
                        "police_convictions",
                    }
                ),
                _full(
                    victim_safe_contact=redacted,
                    health_summary="DEFAULT-DENY",
                    education_attendance="DEFAULT-DENY",
                ),
                frozenset({"repeat_domestic_abuse_child_present"}),
            ),
            HEALTH: Expect(
                frozenset(
                    {
                        "identity",
                        "contact",
                        "referral_details",
                        "domestic_abuse",
                        "health_summary",
                        "education_attendance",
                    }
                ),
                _full(
                    victim_safe_contact=redacted,
                    police_incidents="DEFAULT-DENY",
                    police_convictions="DEFAULT-DENY",
                ),
                frozenset({"repeat_domestic_abuse_child_present"}),
            ),
        },
    )


def _early_help_family(
    today: date,
    ids: _Ids,
    key: str,
    parent: tuple[str, str, Literal["MALE", "FEMALE"]],
    child: tuple[str, Literal["MALE", "FEMALE"], int],
    home: Address,
    baby: str | None,
) -> tuple[list[Person], list[Relationship], list[Held]]:
    p = _person(
        ids,
        f"{key}.parent",
        parent[0],
        parent[1],
        _born(today, 31, 90),
        parent[2],
        home,
        {"housing", "education"},
    )
    c = _person(
        ids,
        f"{key}.child",
        child[0],
        parent[1],
        _born(today, child[2], 20),
        child[1],
        home,
        {"education"},
        school=True,
    )
    people, rels = [p, c], [_rel(c.key, p.key, "MOTHER" if parent[2] == "FEMALE" else "FATHER", True)]
    held = [
        _attendance(c.key, today, "Barley Lane School", 84.1, 19),
        _contact("education", c.key, today, "Barley Lane pastoral team", "01392 255000", True),
        Held(
            "housing",
            p.key,
            "housing.tenancies",
            {
                "tenure_type": "ASSURED",
                "tenancy_start": today - timedelta(days=900),
                "tenancy_end": None,
                "landlord": "LiveWest",
                "lead_tenant": True,
                "postcode": home.postcode,
                "uprn": home.uprn,
                "household_size": 3 if baby else 2,
                "arrears_pence": 126000,
                "arrears_status": "IN_ARREARS",
                "property_flags": ["DAMP_MOULD"],
            },
            today - timedelta(days=5),
        ),
        _contact("housing", p.key, today, "LiveWest income team", "0800 145 6000", True),
    ]
    if baby:
        b = _person(ids, f"{key}.baby", baby, parent[1], _born(today, 1, 100), "FEMALE", home, set())
        people.append(b)
        rels.append(_rel(b.key, p.key, "MOTHER", True))
        held += [
            Held(
                "health",
                b.key,
                "health_summary.community_contacts",
                {
                    "service": "HEALTH_VISITING",
                    "contact_date": today - timedelta(days=d),
                    "contact_type": kind,
                    "attendance": "WAS_NOT_BROUGHT",
                    "concerns": None,
                },
                today - timedelta(days=d),
            )
            for d, kind in ((70, "1-year review"), (28, "Rearranged 1-year review"))
        ]
    return people, rels, held


def _early_help_expect() -> dict[str, Expect]:
    # GREEN: csc sees under R-CSC-GREEN while triaging; the partner hub only once early help is agreed.
    # A professional referrer is named to nobody here: only a s47 enquiry may need to speak to them.
    return {
        CSC: Expect(
            frozenset(
                {
                    "identity",
                    "contact",
                    "referral_details",
                    "education_attendance",
                    "housing",
                    "health_summary",
                }
            ),
            _full(referrer_identity="SYS-REDACTED"),
        ),
        PARTNER: Expect(
            frozenset({"identity", "contact", "referral_details", "education_attendance", "housing"}),
            _full(health_summary="DEFAULT-DENY", referrer_identity="SYS-REDACTED"),
        ),
    }


def early_help(today: date, ids: _Ids) -> Scenario:
    home = Address(("5 Beacon Heath",), "Exeter", "EX4 8NP", "100040256605")
    people, rels, held = _early_help_family(
        today, ids, "eh", ("Chloe", "Hext", "FEMALE"), ("Mason", "MALE", 8), home, "Ava"
    )
    return Scenario(
        key="early-help",
        title="Early help",
        story="Persistent absence and hunger at school, missed health-visitor appointments and rent "
        "arrears. The MASH decides early help; the family agrees, and the partner hub gets what the "
        "support plan needs.",
        household=Household("eh", people, rels, held),
        subjects=(
            Subject("S1", "eh.child", "CHILD"),
            Subject("S2", "eh.baby", "SIBLING"),
            Subject("S3", "eh.parent", "PARENT"),
        ),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Attendance has fallen this term and he often arrives hungry. Mum says money is tight and "
        "she is struggling with the baby.",
        referrer={
            "name": "Designated safeguarding lead",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": "Barley Lane School",
        },
        assign=(CSC, PARTNER),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "EARLY_HELP",
                    "reason": "Needs are below the threshold for "
                    "statutory services; a family support plan is proportionate",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "SECURE_PORTAL"},
                },
            ),
            Step(
                "consent",
                {
                    "kind": "CONSENT_GIVEN",
                    "scope": "EARLY_HELP_SERVICE",
                    "family_informed": True,
                    "decided_by": "Early help coordinator",
                    "reason": "Parent agreed to a family support plan",
                },
            ),
        ),
        expect=_early_help_expect(),
    )


def early_help_refused(today: date, ids: _Ids) -> Scenario:
    home = Address(("12 Sherwell Valley Road",), "Torquay", "TQ2 6EJ", "100040543312")
    people, rels, held = _early_help_family(
        today, ids, "ehr", ("Daniel", "Yeo", "MALE"), ("Ruby", "FEMALE", 10), home, None
    )
    expect = _early_help_expect()
    refused = "SYS-CONSENT-REFUSED"
    return Scenario(
        key="early-help-refused",
        title="Early help, refused",
        story="The same needs, but the father declines early help. The refusal is recorded and respected: "
        "the partner hub receives nothing beyond known / not known.",
        household=Household("ehr", people, rels, held),
        subjects=(Subject("S1", "ehr.child", "CHILD"), Subject("S2", "ehr.parent", "PARENT")),
        concerns=("NEGLECT",),
        source_type="SCHOOL",
        rag="GREEN",
        summary="Persistent absence and the child says there is often no food at home. Rent arrears "
        "letters seen by staff.",
        referrer={
            "name": "Designated safeguarding lead",
            "relationship_to_child": "School",
            "is_professional": True,
            "organisation": "Barley Lane School",
        },
        assign=(CSC, PARTNER),
        steps=(
            Step(
                "decision",
                {
                    "outcome": "EARLY_HELP",
                    "reason": "Needs are below the threshold for statutory services; early help offered",
                    "decided_by": "MASH team manager",
                    "referrer_feedback": {"given": True, "method": "SECURE_PORTAL"},
                },
            ),
            Step(
                "consent",
                {
                    "kind": "CONSENT_REFUSED",
                    "scope": "EARLY_HELP_SERVICE",
                    "family_informed": True,
                    "decided_by": "Early help coordinator",
                    "reason": "Parent declined early help support",
                },
            ),
        ),
        expect={
            CSC: Expect(expect[CSC].sees - {"health_summary"}, expect[CSC].withheld),
            PARTNER: Expect(
                frozenset({"identity", "contact"}),
                _full(
                    referral_details=refused,
                    education_attendance=refused,
                    housing=refused,
                    referrer_identity="SYS-REDACTED",
                ),
            ),
        },
    )


def anonymous_caller(today: date, ids: _Ids) -> Scenario:
    home = Address(("3 Orchard Way",), "Cullompton", "EX15 1EZ", "100040622003")
    mother = _person(
        ids, "anon.mother", "Hannah", "Luscombe", _born(today, 24, 33), "FEMALE", home, {"education"}
    )
    child = _person(
        ids,
        "anon.child",
        "Freya",
        "Luscombe",
        _born(today, 5, 260),
        "FEMALE",
        home,
        {"education"},
        school=True,
    )
    held = [
        _gp(child.key, today, "College Surgery", 5),
        _contact("education", child.key, today, "St Andrew's Primary office", "01884 33166", False),
        _attendance(child.key, today, "St Andrew's Primary", 97.0, 0),
    ]
    screening = "SYS-SCREENING"
    only_screening = Expect(
        frozenset({"identity", "contact"}),
        _full(referral_details=screening, referrer_identity="SYS-REDACTED"),
    )
    return Scenario(
        key="anonymous-caller",
        title="Anonymous caller",
        story="A neighbour calls, asking not to be named: a five-year-old was left alone one evening. "
        "Only screening checks run (known / not known and contact), and the caller stays protected.",
        household=Household("anon", [mother, child], [_rel(child.key, mother.key, "MOTHER", True)], held),
        subjects=(Subject("S1", child.key, "CHILD"), Subject("S2", mother.key, "PARENT")),
        concerns=("NEGLECT",),
        source_type="PUBLIC",
        rag="UNKNOWN",
        summary="Caller heard a young child crying alone in the house for about an hour one evening last "
        "week. Has not seen it happen again.",
        referrer={
            "name": "Margaret Venning",
            "relationship_to_child": "Neighbour",
            "is_professional": False,
            "phone": "07700 900877",
            "wishes_anonymity": True,
        },
        assign=(CSC, POLICE, HEALTH),
        purpose="SCREENING",
        expect={CSC: only_screening, POLICE: only_screening, HEALTH: only_screening},
        extra_sensitive=("Margaret Venning", "Venning", "07700 900877"),
    )


def scenarios(today: date) -> list[Scenario]:
    ids = _Ids()
    return [
        make(today, ids)
        for make in (
            bike_theft,
            drug_house,
            sex_offender,
            domestic_abuse,
            early_help,
            early_help_refused,
            anonymous_caller,
        )
    ]


def households(today: date) -> list[Household]:
    """The scenario households, for the generator to write into the agencies' systems."""
    return [s.household for s in scenarios(today)]
