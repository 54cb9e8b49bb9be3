"""The shape of the synthetic town: people, where they live, and what each agency's system holds on them.

The generator and the scenarios build the same objects, and one writer puts them into each agency's
system in that agency's own format. A person is one real human; each agency keeps its own record of them,
spelled its own way (a :class:`Spelling`), with only the identifiers that agency uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

Kind = Literal["FACT", "ALLEGATION", "OPINION"]


@dataclass(frozen=True)
class Address:
    lines: tuple[str, ...]
    town: str
    postcode: str
    uprn: str | None = None
    # A refuge, or temporary accommodation for a household that has fled: housing flags the property, so
    # that its location is withheld.
    confidential: bool = False


@dataclass(frozen=True)
class Spelling:
    """How one agency's system records a person's name, when it differs from the legal name."""

    given_names: str
    family_name: str


@dataclass(frozen=True)
class Person:
    key: str  # unique in the town, e.g. "bike.child" or "h000123.p2"
    given_names: str
    family_name: str
    dob: date
    sex: Literal["MALE", "FEMALE"]
    address: Address
    nhs: str | None = None
    upn: str | None = None  # school-age children only
    pnc: str | None = None  # only people the police have recorded
    known_to: frozenset[str] = frozenset()  # agencies whose systems hold a record of this person
    spellings: dict[str, Spelling] = field(default_factory=dict)  # agency -> its spelling, if not legal
    # The person has fled or must not be found: health records carry a "confidential address" marker.
    confidential_address: bool = False


@dataclass(frozen=True)
class Relationship:
    person: str  # Person.key
    other: str  # Person.key
    relationship: str  # Identity RelationshipType symbol: what ``other`` is to ``person``, e.g. MOTHER
    lives_with: bool = True
    parental_responsibility: bool | None = None


@dataclass(frozen=True)
class Held:
    """One item an agency's system holds on a person.

    ``source`` is the connector's records key: a category (``police_incidents``) or a category and list
    (``health_summary.emergency_attendances``). ``fields`` are the payload item's fields as the Avro
    schema names them (dates as ``date``, lists as lists), without the provenance fields.
    """

    agency: str
    person: str  # Person.key
    source: str
    fields: dict[str, Any]
    recorded_on: date
    kind: Kind = "FACT"


@dataclass
class Household:
    key: str
    people: list[Person]
    relationships: list[Relationship] = field(default_factory=list)
    held: list[Held] = field(default_factory=list)
