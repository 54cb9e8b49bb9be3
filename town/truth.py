"""The ground truth (town.sqlite): every person as they really are, every agency's record of them, how
they are related; and :func:`sensitive_values`, every personal value the town holds, to scan for."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from town.formats import AgencyPerson, identifiers
from town.model import Household

_TABLES = {
    # confidential: the address is a refuge, flagged in housing's system.
    "households": (
        "key TEXT PRIMARY KEY, kind TEXT, address_lines TEXT, town TEXT, postcode TEXT, uprn TEXT, "
        "confidential INTEGER"
    ),
    # confidential_address: the person has fled; health records carry the marker.
    "people": (
        "key TEXT PRIMARY KEY, household TEXT, given_names TEXT, family_name TEXT, dob TEXT, sex TEXT, "
        "address_lines TEXT, town TEXT, postcode TEXT, uprn TEXT, nhs TEXT, upn TEXT, pnc TEXT, "
        "confidential_address INTEGER"
    ),
    # Each agency's record of a person: its id, and its spelling, with the kind of variant if it differs.
    "agency_records": (
        "person TEXT, agency TEXT, source_id TEXT, given_names TEXT, family_name TEXT, variant TEXT"
    ),
    # Every identifier as each system stores it; agency "town" has the canonical NHS number, UPN and PNC ID.
    "identifiers": "person TEXT, agency TEXT, scheme TEXT, value TEXT",
    "relationships": (
        "person TEXT, other TEXT, relationship TEXT, lives_with INTEGER, parental_responsibility INTEGER"
    ),
}
_INDEXES = (
    "people(family_name)",
    "people(dob)",
    "people(household)",
    "agency_records(person)",
    "agency_records(agency, source_id)",
    "identifiers(person)",
    "relationships(person)",
)


class Truth:
    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode = OFF")
        self._conn.execute("PRAGMA synchronous = OFF")
        for name, body in _TABLES.items():
            self._conn.execute(f"CREATE TABLE {name} ({body})")
        self._rows: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _TABLES}

    def household(
        self, household: Household, kind: str, records: Sequence[AgencyPerson], today: date
    ) -> None:
        first = household.people[0].address if household.people else None
        self._rows["households"].append(
            (
                household.key,
                kind,
                json.dumps(first.lines) if first else None,
                first and first.town,
                first and first.postcode,
                first and first.uprn,
                int(bool(first and first.confidential)),
            )
        )
        for p in household.people:
            a = p.address
            self._rows["people"].append(
                (
                    p.key,
                    household.key,
                    p.given_names,
                    p.family_name,
                    p.dob.isoformat(),
                    p.sex,
                    json.dumps(a.lines),
                    a.town,
                    a.postcode,
                    a.uprn,
                    p.nhs,
                    p.upn,
                    p.pnc,
                    int(p.confidential_address),
                )
            )
            for scheme, value in (("NHS", p.nhs), ("UPN", p.upn), ("PNC", p.pnc)):
                if value:
                    self._rows["identifiers"].append((p.key, "town", scheme, value))
        for r in records:
            self._rows["agency_records"].append(
                (r.person.key, r.agency, r.source_id, r.given_names, r.family_name, r.variant)
            )
            for scheme, value in identifiers(r.agency, r.person, r.source_id, today):
                self._rows["identifiers"].append((r.person.key, r.agency, scheme, value))
        for rel in household.relationships:
            self._rows["relationships"].append(
                (
                    rel.person,
                    rel.other,
                    rel.relationship,
                    int(rel.lives_with),
                    None if rel.parental_responsibility is None else int(rel.parental_responsibility),
                )
            )

    def commit(self) -> None:
        self._conn.execute("BEGIN")
        for name, rows in self._rows.items():
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                self._conn.executemany(f"INSERT INTO {name} VALUES ({marks})", rows)  # noqa: S608
            rows.clear()
        self._conn.execute("COMMIT")

    def close(self, *, index: bool) -> None:
        if index:
            self._conn.execute("BEGIN")
            for n, target in enumerate(_INDEXES):
                self._conn.execute(f"CREATE INDEX ix{n} ON {target}")
            self._conn.execute("COMMIT")
            self._conn.execute("PRAGMA journal_mode = DELETE")
        self._conn.close()


def sensitive_values(out: Path) -> set[str]:
    """Every name (given and family names whole and together, and each part of three letters or more),
    date of birth (YYYY-MM-DD and
    DD/MM/YYYY), address line, postcode and identifier (in every format any system stores it) of every
    synthetic person in ``out``, and the MARAC safe contacts the police hold: what must never be seen in
    plaintext on a Kafka topic. Parts shorter than three letters are left out: they occur by chance in
    any ciphertext."""
    values: set[str] = set()
    conn = sqlite3.connect(f"{(out / 'town.sqlite').resolve().as_uri()}?mode=ro", uri=True)
    try:
        names = conn.execute(
            "SELECT given_names, family_name FROM people"
            " UNION SELECT given_names, family_name FROM agency_records"
        )
        for given, family in names:
            _add_name(values, given)
            _add_name(values, family)
            if given and family:  # whole names catch a leak of a short name, "Amy Cox", too
                values.update((f"{given} {family}", f"{family}, {given}", f"{family.upper()}, {given}"))
        for dob, lines, postcode in conn.execute("SELECT dob, address_lines, postcode FROM people"):
            day = date.fromisoformat(dob)
            values.update((day.isoformat(), day.strftime("%d/%m/%Y"), postcode, *json.loads(lines)))
        values.update(value for (value,) in conn.execute("SELECT value FROM identifiers"))
    finally:
        conn.close()
    police = out / "police.sqlite"
    if police.exists():
        conn = sqlite3.connect(f"{police.resolve().as_uri()}?mode=ro", uri=True)
        try:
            for phone, lines, postcode in conn.execute(
                "SELECT phone, address_lines, postcode FROM safe_contacts"
            ):
                values.update(v for v in (phone, postcode, *json.loads(lines or "[]")) if v)
        finally:
            conn.close()
    values.discard("")
    return values


def _add_name(values: set[str], name: str | None) -> None:
    if not name:
        return
    values.add(name)
    values.update(part for part in name.replace("-", " ").split() if len(part) >= 3)
