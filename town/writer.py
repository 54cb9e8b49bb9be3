"""One writer for every household, random or scenario: each agency's system in its own format, and the
ground truth. Rows go in chunks, one transaction per chunk per store, so memory stays bounded."""

from __future__ import annotations

import csv
import json
import sqlite3
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from town.contact import contact_items
from town.deployment import AGENCIES
from town.formats import AgencyPerson, pnc_full_year, spaced_nhs
from town.model import Held, Household, Person, Spelling
from town.places import Catalogue
from town.schema import NOT_STORED, PROVENANCE, SQL_TYPES, STORES, Column, SourceSystem, Table
from town.truth import Truth
from town.variants import Variant

# How each agency numbers the people in its system.
_ID_FORMATS = {
    "police": "NOM{:07d}",  # a nominal record
    "health": "H{:07d}",  # a hospital number
    "education": "ADM{:06d}",  # an admission number (contacts share the sequence)
    "socialcare": "{:07d}",  # the council's person id
    "probation": "X{:06d}",  # an nDelius case reference number (CRN)
    "youthjustice": "YJ{:06d}",  # the YOT number
    "housing": "HP{:07d}",  # a housing person reference
}
_ID_OFFSET = {"socialcare": 1_000_000}


class HeldInvalid(ValueError):
    """A held item the writer cannot place. The message names keys and fields, never values."""


@dataclass
class Counts:
    people: Counter[str] = field(default_factory=Counter)  # agency -> people in its system
    items: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agency, records key) -> rows


class Writer:
    def __init__(self, out: Path, today: date, catalogue: Catalogue) -> None:
        self.out = out
        self.today = today
        self.catalogue = catalogue
        self.counts = Counts()
        self._next_id: Counter[str] = Counter()
        self._db: dict[str, sqlite3.Connection] = {}
        self._files: dict[str, tuple[IO[str], Any]] = {}
        self.truth = Truth(out / "town.sqlite")

    def __enter__(self) -> Writer:
        for store in STORES.values():
            if store.csv:
                self._open_csv(store)
            else:
                self._db[store.agency] = _create(self.out / store.path, store)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for handle, _ in self._files.values():
            handle.close()
        if kind is None:
            for agency, conn in self._db.items():
                _index(conn, STORES[agency])
        for conn in self._db.values():
            conn.close()
        self.truth.close(index=kind is None)

    # -- writing ----------------------------------------------------------------------------------------
    def write(self, households: Sequence[Household], kinds: dict[str, str] | None = None) -> None:
        """Write ``households`` (one chunk) to every agency's system and to the ground truth."""
        people = {p.key: p for h in households for p in h.people}
        held = _held_by_person(households, people)
        rows: dict[tuple[str, str], list[tuple[Any, ...]]] = defaultdict(list)
        for household in households:
            records = []
            for person in household.people:
                for agency in sorted(person.known_to):
                    record = self._record(agency, person, held.get((agency, person.key), []))
                    records.append(record)
                    self._rows(record, household, held, rows)
            self.truth.household(household, (kinds or {}).get(household.key, "SCENARIO"), records, self.today)
        self._flush(rows)
        self.truth.commit()

    def _record(self, agency: str, person: Person, items: Sequence[Held]) -> AgencyPerson:
        self._next_id[agency] += 1
        spelling = person.spellings.get(agency)
        variant = None
        if spelling is not None and (spelling.given_names, spelling.family_name) != (
            person.given_names,
            person.family_name,
        ):
            variant = spelling.kind if isinstance(spelling, Variant) else "scenario"
        given, family = _names(person, spelling)
        first = min((i.recorded_on for i in items), default=None)
        return AgencyPerson(
            agency=agency,
            source_id=_ID_FORMATS[agency].format(self._next_id[agency] + _ID_OFFSET.get(agency, 0)),
            person=person,
            given_names=given,
            family_name=family,
            variant=variant,
            created_on=first or _first_known(agency, person, self.today),
            items=items,
        )

    def _rows(
        self,
        record: AgencyPerson,
        household: Household,
        held: dict[tuple[str, str], list[Held]],
        rows: dict[tuple[str, str], list[tuple[Any, ...]]],
    ) -> None:
        store = STORES[record.agency]
        people_table, person_row = _person_row(store, record, self.today)
        rows[(record.agency, people_table.name)].append(_encode(person_row, people_table.columns, store.csv))
        self.counts.people[record.agency] += 1
        # A scenario's own contacts replace the ones derived from what the agency holds.
        given_contact = [i for i in record.items if i.source == "contact"]
        if not given_contact:
            derived = contact_items(
                record.agency, record.person, record.items, household, held, self.catalogue, self.today
            )
            for fields in derived:
                item = Held(record.agency, record.person.key, "contact", fields, self.today)
                self._item_row(store, record, item, rows)
        for item in record.items:
            self._item_row(store, record, item, rows)

    def _item_row(
        self,
        store: SourceSystem,
        record: AgencyPerson,
        item: Held,
        rows: dict[tuple[str, str], list[tuple[Any, ...]]],
    ) -> None:
        table = store.table(item.source)
        if table is None:
            raise HeldInvalid(f"{item.person}: {store.agency} has no records key {item.source!r}")
        names = {name for name, _ in store.item_columns(table)}
        placed = [name for name in NOT_STORED if item.fields.get(name) is not None]
        if placed:
            raise HeldInvalid(
                f"{item.person}: {item.source} must leave {placed} null (it is its own category)"
            )
        unknown = sorted(set(item.fields) - names - PROVENANCE - NOT_STORED)
        if unknown:
            raise HeldInvalid(f"{item.person}: {store.agency} {item.source} has no column for {unknown}")
        values = {
            store.id_column: record.source_id,
            **item.fields,
            "kind": item.kind,
            "recorded_on": item.recorded_on,
        }
        cols = store.item_columns(table)
        rows[(store.agency, table.name)].append(_encode(values, cols, store.csv))
        self.counts.items[(store.agency, item.source)] += 1

    def _flush(self, rows: dict[tuple[str, str], list[tuple[Any, ...]]]) -> None:
        by_agency: dict[str, list[tuple[str, list[tuple[Any, ...]]]]] = defaultdict(list)
        for (agency, table), batch in rows.items():
            by_agency[agency].append((table, batch))
        for agency, batches in by_agency.items():
            if agency in self._db:
                conn = self._db[agency]
                conn.execute("BEGIN")
                for table, batch in batches:
                    marks = ", ".join("?" * len(batch[0]))
                    conn.executemany(f'INSERT INTO "{table}" VALUES ({marks})', batch)  # noqa: S608
                conn.execute("COMMIT")
            else:
                for table, batch in batches:
                    self._files[table][1].writerows(batch)

    def _open_csv(self, store: SourceSystem) -> None:
        folder = self.out / store.path
        folder.mkdir(parents=True, exist_ok=True)
        tables = [store.people, *([store.contacts] if store.contacts else []), *store.tables]
        for table in tables:
            cols = table.columns if table.source is None else store.item_columns(table)
            handle = (folder / table.name).open("w", encoding="utf-8", newline="")
            writer = csv.writer(handle)
            writer.writerow([name for name, _ in cols])
            self._files[table.name] = (handle, writer)


def _held_by_person(
    households: Sequence[Household], people: dict[str, Person]
) -> dict[tuple[str, str], list[Held]]:
    held: dict[tuple[str, str], list[Held]] = defaultdict(list)
    for household in households:
        for item in household.held:
            person = people.get(item.person)
            if person is None:
                raise HeldInvalid(
                    f"{household.key}: a held item names {item.person!r}, who is in no household"
                )
            if item.agency not in AGENCIES:
                raise HeldInvalid(f"{item.person}: unknown agency {item.agency!r}")
            if item.agency not in person.known_to:
                raise HeldInvalid(f"{item.person}: {item.agency} holds an item but is not in known_to")
            held[(item.agency, item.person)].append(item)
    return held


def _names(person: Person, spelling: Spelling | None) -> tuple[str, str]:
    if spelling is None:
        return person.given_names, person.family_name
    return spelling.given_names, spelling.family_name


def _first_known(agency: str, person: Person, today: date) -> date:
    """When a system with nothing else on a person first recorded them (a parent, a household member)."""
    if agency == "health":
        return person.dob
    return max(person.dob, today - timedelta(days=400))


def _person_row(store: SourceSystem, r: AgencyPerson, today: date) -> tuple[Table, dict[str, Any]]:
    p = r.person
    sex = {"MALE": "M", "FEMALE": "F"}.get(p.sex, "U")
    where = {
        "forename": r.given_names,
        "surname": r.family_name,
        "dob": p.dob,
        "sex": sex,
        "gender": sex,
        "address_lines": list(p.address.lines),
        "town": p.address.town,
        "postcode": p.address.postcode,
        "uprn": p.address.uprn,
        "created_on": r.created_on,
        "confidential_address": p.confidential_address,
        "address_confidential": p.address.confidential,
        store.id_column: r.source_id,
    }
    if r.agency == "police":
        where["pnc"] = pnc_full_year(p.pnc, today) if p.pnc else None
        where["pnc_created"] = _pnc_created(p.pnc, today) if p.pnc else None
    elif r.agency == "health":
        where["nhs_number"] = spaced_nhs(p.nhs) if p.nhs else None
    elif r.agency == "socialcare":
        child = (today - p.dob).days < 18 * 365.25
        where["nhs_number"] = p.nhs if child else None  # CP-IS needs a child's NHS number
        where["person_type"] = "CHILD" if child else "ADULT"
    elif r.agency == "probation":
        where["pnc"] = p.pnc
    elif r.agency == "education":
        return _mis_row(store, r, where)
    return store.people, where


def _mis_row(store: SourceSystem, r: AgencyPerson, where: dict[str, Any]) -> tuple[Table, dict[str, Any]]:
    p = r.person
    row = {
        **where,
        "given_names": r.given_names,
        "family_name": r.family_name,
        "date_of_birth": p.dob,
        "recorded_on": r.created_on,
    }
    if p.upn is None and store.contacts is not None:
        return store.contacts, row
    attendance = [i for i in r.items if i.source == "education_attendance.attendance"]
    latest = max(attendance, key=lambda i: i.recorded_on).fields if attendance else {}
    row.update(
        upn=p.upn,
        school_urn=latest.get("school_urn"),
        school_name=latest.get("school_name"),
        admission_date=latest.get("on_roll_from") or r.created_on,
    )
    return store.people, row


def _pnc_created(pnc: str, today: date) -> date:
    year = int(pnc_full_year(pnc, today)[:4])
    return min(today, date(year, 1, 1) + timedelta(days=int(pnc[3:10]) % 365))


def _encode(values: dict[str, Any], cols: Iterable[Column], for_csv: bool) -> tuple[Any, ...]:
    return tuple(_value(values.get(name), for_csv) for name, _ in cols)


def _value(value: Any, for_csv: bool) -> Any:
    if value is None:
        return "" if for_csv else None
    if isinstance(value, bool):
        return ("true" if value else "false") if for_csv else int(value)
    if isinstance(value, date):
        # A school MIS exports UK dates; the databases keep ISO dates.
        return value.strftime("%d/%m/%Y") if for_csv else value.isoformat()
    if isinstance(value, list | tuple):
        return json.dumps(list(value), ensure_ascii=False, default=str)
    return value


def _create(path: Path, store: SourceSystem) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    # A generated file can always be generated again: no journal while loading it.
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    tables = [(store.people, store.people.columns)] + [(t, store.item_columns(t)) for t in store.tables]
    for table, cols in tables:
        # Quoted: a payload field may be an SQL keyword (a removal's ``order``).
        body = ", ".join(f'"{name}" {SQL_TYPES[kind]}' for name, kind in cols)
        conn.execute(f'CREATE TABLE "{table.name}" ({body})')
    conn.execute("COMMIT")
    return conn


def _index(conn: sqlite3.Connection, store: SourceSystem) -> None:
    """Indexes once the rows are in (faster than keeping them up to date row by row)."""
    people = store.people.name
    conn.execute("BEGIN")
    conn.execute(f'CREATE UNIQUE INDEX "{people}_id" ON "{people}" ({store.id_column})')
    for n, expr in enumerate(store.person_indexes):
        conn.execute(f'CREATE INDEX "{people}_k{n}" ON "{people}" ({expr})')
    for table in store.tables:
        conn.execute(f'CREATE INDEX "{table.name}_person" ON "{table.name}" ({store.id_column})')
    conn.execute("COMMIT")
    conn.execute("PRAGMA journal_mode = DELETE")
