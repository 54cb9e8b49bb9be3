"""Whom a professional should call about a person: each agency's teams, derived from what it holds.

Every person an agency knows has one plain contact, a team that says no more than that the agency knows
them (the police MASH desk, the NHS safeguarding team, the children's services front door). A person a
specialist service works with also has that service's own contact (a MOSOVO team, CAMHS, a community
mental health team, a drug and alcohol service, a maternity unit, an allocated social work team), whose
name reveals what the service's data would: the connectors route those to their scoped categories
(``contact_<category>``, deploy/connectors/*.yaml ``contacts``).

Numbers are team lines from Ofcom's drama range (01632 960000-960999), never a person's own."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any

from town.model import Held, Household, Person
from town.places import TOWNS, Catalogue

AREAS = ("Exeter", "Mid Devon", "North Devon", "South Devon", "Torbay", "Plymouth")
_AREA_OF_TOWN = {town: area for town, _, _, _, area in TOWNS}
# Agency -> the first of its team numbers; per-area teams take the next five.
_PHONE_BASE = {
    "police": 1,
    "health": 2,
    "education": 4,
    "socialcare": 10,
    "probation": 20,
    "youthjustice": 30,
    "housing": 40,
}
# (team, role, currently open); a specialist service's teams take the next hundred numbers.
Team = tuple[str, str, bool | None]
Got = dict[str, list[dict[str, Any]]]
# The PNC marker of a person on the sex offenders register (notification requirements, a ViSOR nominal).
SEX_OFFENDER_MARKER = "SO"


def _phone(agency: str, area: str | None = None, service: int = 0) -> str:
    offset = AREAS.index(area) if area in AREAS else 0
    return f"01632 960{service}{_PHONE_BASE[agency] + offset:02d}"


def _slug(text: str) -> str:
    return "-".join(text.lower().replace("'", "").split())


def contact_items(
    agency: str,
    person: Person,
    items: Sequence[Held],
    household: Household,
    held: dict[tuple[str, str], list[Held]],
    catalogue: Catalogue,
    today: date,
) -> list[dict[str, Any]]:
    """The ``contact`` items for ``person`` in ``agency``'s system: the plain one first."""
    latest = max((i.recorded_on for i in items), default=None)
    area = _AREA_OF_TOWN.get(person.address.town, "Exeter")
    fields: dict[str, Any] = {"known": True, "agency": agency, "last_involvement": latest}
    by_source: Got = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item.fields)
    if agency == "education":
        return [{**fields, **_school(person, by_source, household, held, catalogue)}]
    teams = [_PLAIN[agency](area, person, by_source, today)]
    teams += _SPECIALIST.get(agency, _none)(area, person, by_source, today)
    return [
        {
            **fields,
            "currently_open": open_,
            "contact_team": team,
            "contact_role": role,
            "contact_phone": _phone(agency, area, service),
            "contact_email": f"{_slug(team)}@{agency}.devon.example",
        }
        for service, (team, role, open_) in enumerate(teams)
    ]


def _recent(dates: Sequence[date | None], days: int, today: date) -> bool:
    latest = max((d for d in dates if isinstance(d, date)), default=None)
    return latest is not None and latest >= today - timedelta(days=days)


def _none(area: str, person: Person, got: Got, today: date) -> list[Team]:
    return []


def _police(area: str, person: Person, got: Got, today: date) -> Team:
    on_bail = any(
        isinstance(b.get("return_date"), date) and b["return_date"] >= today
        for b in got.get("police_convictions.bail", [])
    )
    recent = _recent([i.get("incident_date") for i in got.get("police_incidents", [])], 90, today)
    return "MASH police desk", "Detective Sergeant, MASH", on_bail or recent


def _police_specialists(area: str, person: Person, got: Got, today: date) -> list[Team]:
    """A registered sex offender's manager, and the intelligence unit for a subject of intelligence."""
    teams: list[Team] = []
    sexual = any(d.get("offence_category") == "SEXUAL" for d in got.get("police_convictions.disposals", []))
    marked = any(
        m.get("marker_code") == SEX_OFFENDER_MARKER for m in got.get("police_convictions.markers", [])
    )
    if sexual or marked:
        teams.append((f"{area} MOSOVO team", "Sex offender manager", True))
    intelligence = got.get("police_intelligence", [])
    if intelligence:
        recent = _recent([r.get("intelligence_date") for r in intelligence], 365, today)
        teams.append(("Force intelligence bureau", "Intelligence officer", recent))
    return teams


def _health(area: str, person: Person, got: Got, today: date) -> Team:
    # Open while registered with a GP: which services see the person is each service's own fact.
    registered = any(
        g.get("registered_until") is None for g in got.get("health_summary.gp_registrations", [])
    )
    if (today - person.dob).days < 18 * 365.25:
        return "Safeguarding children team", "Named nurse for safeguarding children", registered
    return "Safeguarding adults team", "Named professional for safeguarding adults", registered


_MH_TEAMS = {
    "ADULT_MENTAL_HEALTH": ("community mental health team", "Care coordinator"),
    "EARLY_INTERVENTION_PSYCHOSIS": ("early intervention in psychosis team", "Care coordinator"),
    "PERINATAL": ("perinatal mental health team", "Perinatal mental health practitioner"),
    "OTHER": ("drug and alcohol service", "Recovery worker"),
}


def _health_specialists(area: str, person: Person, got: Got, today: date) -> list[Team]:
    """CAMHS, the adult mental health teams, the drug and alcohol service, a current pregnancy's unit."""
    teams: list[Team] = []
    for c in got.get("health_summary.camhs", [])[-1:]:
        teams.append(
            (c.get("team") or f"{area} CAMHS", "CAMHS clinician", c.get("status") in ("OPEN", "REFERRED"))
        )
    services = {e.get("service"): e for e in got.get("mental_health.episodes", [])}
    for service, (team, role) in _MH_TEAMS.items():
        if service in services:
            teams.append((f"{area} {team}", role, services[service].get("discharge_date") is None))
    for m in got.get("health_summary.maternity", []):
        due = m.get("expected_delivery_date")
        if m.get("delivery_date") is None and isinstance(due, date) and due >= today:
            teams.append((m.get("unit") or f"{area} maternity unit", "Community midwife", True))
    return teams


def _socialcare(area: str, person: Person, got: Got, today: date) -> Team:
    # The front door says children's services know the person; whether a case is open is its own fact.
    return "Children's services front door", "Front door duty officer", None


def _socialcare_specialists(area: str, person: Person, got: Got, today: date) -> list[Team]:
    """The team that works with a child: its name says there is a plan, or care."""
    statuses = got.get("social_care_history.current_status", [])
    if not statuses:
        return []
    status = statuses[-1]
    open_ = bool(status.get("case_open"))
    team = status.get("team") or f"{area} children's social work team"
    role = "Allocated social worker" if status.get("allocated_social_worker") else "Team manager"
    return [(team, role, open_)]


def _probation(area: str, person: Person, got: Got, today: date) -> Team:
    open_ = any(
        r.get("custody_status") != "NOT_SUPERVISED"
        and (not isinstance(r.get("sentence_end_date"), date) or r["sentence_end_date"] >= today)
        for r in got.get("probation", [])
    )
    return f"{area} probation delivery unit", "Probation practitioner", open_


def _youthjustice(area: str, person: Person, got: Got, today: date) -> Team:
    ends = [o.get("end_date") for o in got.get("youth_justice.orders", [])]
    ends += [i.get("end_date") for i in got.get("youth_justice.interventions", [])]
    open_ = any(e is None or (isinstance(e, date) and e >= today) for e in ends)
    return f"{area} youth justice service", "YJS case manager", open_


def _housing(area: str, person: Person, got: Got, today: date) -> Team:
    open_ = any(t.get("tenancy_end") is None for t in got.get("housing.tenancies", []))
    return f"{area} tenancy services", "Housing officer", open_


_PLAIN: dict[str, Callable[[str, Person, Got, date], Team]] = {
    "police": _police,
    "health": _health,
    "socialcare": _socialcare,
    "probation": _probation,
    "youthjustice": _youthjustice,
    "housing": _housing,
}
_SPECIALIST: dict[str, Callable[[str, Person, Got, date], list[Team]]] = {
    "police": _police_specialists,
    "health": _health_specialists,
    "socialcare": _socialcare_specialists,
}


def _school(
    person: Person,
    got: Got,
    household: Household,
    held: dict[tuple[str, str], list[Held]],
    catalogue: Catalogue,
) -> dict[str, Any]:
    """A pupil's school, or for a parent or carer, their child's: its designated safeguarding lead."""
    rows = got.get("education_attendance.attendance", [])
    on_roll = bool(rows) and rows[-1].get("on_roll_to") is None
    if not rows:
        for other in household.people:
            rows = [
                i.fields for i in held.get(("education", other.key), []) if i.source.endswith(".attendance")
            ]
            if rows:
                break
    name = rows[-1].get("school_name") if rows else None
    school = catalogue.school(name) if isinstance(name, str) else None
    return {
        "currently_open": on_roll if person.upn else None,
        "contact_team": name or "Education safeguarding team",
        "contact_role": "Designated Safeguarding Lead" if name else "Education safeguarding officer",
        "contact_phone": school.phone if school else _phone("education"),
        "contact_email": school.email if school else "education.safeguarding@education.devon.example",
    }
