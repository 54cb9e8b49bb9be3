"""How each agency's system writes a person's identifiers, and its record of a person."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from town.model import Held, Person


@dataclass(frozen=True)
class AgencyPerson:
    """One agency's record of a person: its own id and spelling."""

    agency: str
    source_id: str
    person: Person
    given_names: str
    family_name: str
    variant: str | None
    created_on: date
    items: Sequence[Held]


def pnc_full_year(pnc: str, today: date) -> str:
    """``09/0012345X`` as police systems print it: ``2009/0012345X``."""
    yy = int(pnc[:2])
    century = 2000 if yy <= today.year % 100 else 1900
    return f"{century + yy}{pnc[2:]}"


def spaced_nhs(nhs: str) -> str:
    return f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}"


def identifiers(agency: str, person: Person, source_id: str, today: date) -> list[tuple[str, str]]:
    """Every identifier ``agency``'s system holds on ``person``, as it stores it: (scheme, value)."""
    found = [("SOURCE_ID", source_id)]
    if agency == "police" and person.pnc:
        found.append(("PNC", pnc_full_year(person.pnc, today)))
    elif agency == "health" and person.nhs:
        found.append(("NHS", spaced_nhs(person.nhs)))
    elif agency == "education" and person.upn:
        found.append(("UPN", person.upn))
    elif agency == "socialcare":
        found.append(("COUNCIL_ID", source_id))
        if person.nhs and (today - person.dob).days < 18 * 365.25:
            found.append(("NHS", person.nhs))
    elif agency == "probation":
        found.append(("CRN", source_id))
        if person.pnc:
            found.append(("PNC", person.pnc))
    elif agency == "youthjustice":
        found.append(("YOT_ID", source_id))
    elif agency == "housing":
        found.append(("HOUSING_REF", source_id))
    return found
