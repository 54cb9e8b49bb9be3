"""Whom a professional should call about a person: each agency's team, derived from what it holds.

Numbers are team lines from Ofcom's drama range (01632 960000-960099), never a person's own."""

from __future__ import annotations

from collections.abc import Sequence
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


def _phone(agency: str, area: str | None = None) -> str:
    offset = AREAS.index(area) if area in AREAS else 0
    return f"01632 9600{_PHONE_BASE[agency] + offset:02d}"


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def contact_fields(
    agency: str,
    person: Person,
    items: Sequence[Held],
    household: Household,
    held: dict[tuple[str, str], list[Held]],
    catalogue: Catalogue,
    today: date,
) -> dict[str, Any]:
    """The ``contact`` item for ``person`` in ``agency``'s system."""
    latest = max((i.recorded_on for i in items), default=None)
    area = _AREA_OF_TOWN.get(person.address.town, "Exeter")
    fields: dict[str, Any] = {"known": True, "agency": agency, "last_involvement": latest}
    by_source: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item.fields)
    if agency == "education":
        return {**fields, **_school(person, by_source, household, held, catalogue)}
    team, role, open_ = _TEAMS[agency](area, person, by_source, today)
    email = f"{_slug(team)}@{agency}.devon.example"
    return {
        **fields,
        "currently_open": open_,
        "contact_team": team,
        "contact_role": role,
        "contact_phone": _phone(agency, area),
        "contact_email": email,
    }


def _recent(dates: Sequence[date | None], days: int, today: date) -> bool:
    latest = max((d for d in dates if isinstance(d, date)), default=None)
    return latest is not None and latest >= today - timedelta(days=days)


def _police(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    on_bail = any(
        isinstance(b.get("return_date"), date) and b["return_date"] >= today
        for b in got.get("police_convictions.bail", [])
    )
    recent = _recent([i.get("incident_date") for i in got.get("police_incidents", [])], 90, today)
    return "MASH police desk", "Detective Sergeant, MASH", on_bail or recent


def _health(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    child = (today - person.dob).days < 18 * 365.25
    open_ = any(c.get("status") in ("OPEN", "REFERRED") for c in got.get("health_summary.camhs", []))
    open_ |= any(e.get("discharge_date") is None for e in got.get("mental_health.episodes", []))
    contacts = [c.get("contact_date") for c in got.get("health_summary.community_contacts", [])]
    open_ |= _recent(contacts, 180, today)
    if child:
        return "Safeguarding children team", "Named nurse for safeguarding children", open_
    return "Safeguarding adults team", "Named professional for safeguarding adults", open_


def _socialcare(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    status = got.get("social_care_history.current_status", [{}])[-1]
    open_ = bool(status.get("case_open"))
    team = status.get("team") or f"{area} children's social work team"
    return (
        team,
        "Allocated social worker" if status.get("allocated_social_worker") else "Duty social worker",
        open_,
    )


def _probation(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    open_ = any(
        r.get("custody_status") != "NOT_SUPERVISED"
        and (not isinstance(r.get("sentence_end_date"), date) or r["sentence_end_date"] >= today)
        for r in got.get("probation", [])
    )
    return f"{area} probation delivery unit", "Probation practitioner", open_


def _youthjustice(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    ends = [o.get("end_date") for o in got.get("youth_justice.orders", [])]
    ends += [i.get("end_date") for i in got.get("youth_justice.interventions", [])]
    open_ = any(e is None or (isinstance(e, date) and e >= today) for e in ends)
    return f"{area} youth justice service", "YJS case manager", open_


def _housing(
    area: str, person: Person, got: dict[str, list[dict[str, Any]]], today: date
) -> tuple[str, str, bool]:
    open_ = any(t.get("tenancy_end") is None for t in got.get("housing.tenancies", []))
    return f"{area} tenancy services", "Housing officer", open_


_TEAMS = {
    "police": _police,
    "health": _health,
    "socialcare": _socialcare,
    "probation": _probation,
    "youthjustice": _youthjustice,
    "housing": _housing,
}


def _school(
    person: Person,
    got: dict[str, list[dict[str, Any]]],
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
