"""The layout of each agency's system: its people table and one table (or CSV export) per records key.

An item table's columns are its payload list's fields, read from the Avro schema (schemas/payload/), so a
scenario's ``Held.fields`` map onto them one to one; the agency's person id column comes first, ``kind``
and ``recorded_on`` last. Lists are stored as JSON text, booleans as 0/1 (``true``/``false`` in CSV), dates
as ISO text (``DD/MM/YYYY`` in the school MIS exports).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from jigsaw.wire.categories import CATEGORIES
from jigsaw.wire.codec import default_schemas_dir

Column = tuple[str, str]  # (name, type): text, date, bool, int, real or json
SQL_TYPES = {
    "text": "TEXT",
    "date": "TEXT",
    "json": "TEXT",
    "bool": "INTEGER",
    "int": "INTEGER",
    "real": "REAL",
}
PROVENANCE = frozenset({"kind", "source", "recorded_on", "source_ref"})
# Never stored with a case: the safe contact is its own category, which the broker withholds whole.
NOT_STORED = frozenset({"victim_safe_contact"})
_PRIMITIVE = {
    "string": "text",
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "double": "real",
    "float": "real",
}


def columns(spec: str) -> tuple[Column, ...]:
    pairs = [part.split() for part in spec.split(",")]
    return tuple((name, kind) for name, kind in pairs)


@functools.cache
def item_columns(source: str) -> tuple[Column, ...]:
    """The payload item fields of records key ``source`` (``domestic_abuse.cases``), with storage types."""
    category, _, list_name = source.partition(".")
    schema = _payload_schema(CATEGORIES[category].schema)
    lists = [f for f in schema["fields"] if isinstance(f["type"], dict) and f["type"].get("type") == "array"]
    chosen = [f for f in lists if f["name"] == list_name] if list_name else lists
    if len(chosen) != 1:
        raise KeyError(f"records key {source!r} names no single list of {schema['name']}")
    item = chosen[0]["type"]["items"]
    return tuple(
        (f["name"], _storage(f["type"])) for f in item["fields"] if f["name"] not in PROVENANCE | NOT_STORED
    )


def list_field(source: str) -> str:
    """The payload list a records key fills, e.g. ``incidents`` for ``police_incidents``."""
    category, _, list_name = source.partition(".")
    if list_name:
        return list_name
    schema = _payload_schema(CATEGORIES[category].schema)
    (only,) = [
        f["name"]
        for f in schema["fields"]
        if isinstance(f["type"], dict) and f["type"].get("type") == "array"
    ]
    return str(only)


@functools.cache
def _payload_schema(full_name: str) -> dict[str, Any]:
    name = full_name.rsplit(".", 1)[1]
    newest = max(
        (default_schemas_dir() / "payload").glob(f"{name}.v*.avsc"),
        key=lambda p: int(p.name.split(".v")[1].split(".")[0]),
    )
    doc: dict[str, Any] = json.loads(newest.read_text(encoding="utf-8"))
    return doc


def _storage(avro: Any) -> str:
    if isinstance(avro, list):
        (avro,) = [t for t in avro if t != "null"]
    if isinstance(avro, dict):
        if avro.get("logicalType") == "date":
            return "date"
        if avro["type"] == "array":
            return "json"
        if avro["type"] == "enum":
            return "text"
        return _PRIMITIVE[avro["type"]]
    return _PRIMITIVE.get(avro, "text")  # any other name is an enum defined earlier in the schema


@dataclass(frozen=True)
class Table:
    name: str  # table name, or file name for a CSV export
    source: str | None  # the records key whose items fill it; None for a people table
    columns: tuple[Column, ...] = ()  # a people table's columns (an item table's come from the schema)


@dataclass(frozen=True)
class SourceSystem:
    """One agency's own system as the town writes it (a SQLite file or a folder of CSV exports), the
    source its connector reads; not to be confused with a service's store (``jigsaw.bus.store``)."""

    agency: str
    path: str  # file (SQLite) or folder (CSV) under the output directory
    id_column: str
    people: Table
    tables: tuple[Table, ...]
    csv: bool = False
    # Columns of the people table to index for the persons query's blocking (surname, dob, identifiers).
    person_indexes: tuple[str, ...] = ()
    # A second people export: a school MIS lists pupils and their parents and carers apart.
    contacts: Table | None = None

    def table(self, source: str) -> Table | None:
        return next((t for t in self.tables if t.source == source), None)

    def item_columns(self, table: Table) -> tuple[Column, ...]:
        assert table.source is not None  # noqa: S101 - people tables have their own columns
        return (
            (self.id_column, "text"),
            *item_columns(table.source),
            ("kind", "text"),
            ("recorded_on", "date"),
        )


_PERSON = "forename text, surname text, dob date, sex text, address_lines json, town text, postcode text"

POLICE = SourceSystem(
    "police",
    "police.sqlite",
    "person_id",
    Table(
        "persons", None, columns(f"person_id text, {_PERSON}, pnc text, pnc_created date, created_on date")
    ),
    (
        Table("involvement", "contact"),
        Table("incidents", "police_incidents"),
        Table("disposals", "police_convictions.disposals"),
        Table("markers", "police_convictions.markers"),
        Table("bail", "police_convictions.bail"),
        Table("intelligence", "police_intelligence"),
        Table("da_cases", "domestic_abuse.cases"),
        Table("protective_orders", "domestic_abuse.protective_orders"),
        Table("safe_contacts", "victim_safe_contact"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob", "substr(pnc, 3)"),
)

HEALTH = SourceSystem(
    "health",
    "health.sqlite",
    "patient_id",
    Table(
        "patients",
        None,
        # confidential_address: the patient record's marker (a fled victim, a refuge).
        columns(
            f"patient_id text, nhs_number text, {_PERSON}, uprn text, created_on date, "
            "confidential_address bool"
        ),
    ),
    (
        Table("involvement", "contact"),
        Table("gp_registrations", "health_summary.gp_registrations"),
        Table("community_contacts", "health_summary.community_contacts"),
        Table("emergency_attendances", "health_summary.emergency_attendances"),
        Table("maternity", "health_summary.maternity"),
        Table("camhs", "health_summary.camhs"),
        Table("mh_episodes", "mental_health.episodes"),
        Table("mh_crisis_episodes", "mental_health.crisis_episodes"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob", "replace(nhs_number, ' ', '')"),
)

_MIS_PERSON = (
    "given_names text, family_name text, date_of_birth date, gender text, address_lines json, town text, "
    "postcode text"
)
EDUCATION = SourceSystem(
    "education",
    "education",
    "person_id",
    # Pupils and their contacts are two exports; the connector reads both as people ("pupil*.csv").
    Table(
        "pupils.csv",
        None,
        columns(
            f"person_id text, upn text, {_MIS_PERSON}, school_urn text, school_name text, "
            "admission_date date, "
            "recorded_on date"
        ),
    ),
    (
        Table("involvement.csv", "contact"),
        Table("attendance.csv", "education_attendance.attendance"),
        Table("missing.csv", "education_attendance.missing_episodes"),
        Table("encompass.csv", "education_attendance.encompass_notifications"),
        Table("sen.csv", "education_sen_exclusions.sen"),
        Table("exclusions.csv", "education_sen_exclusions.exclusions"),
    ),
    csv=True,
    contacts=Table("pupil-contacts.csv", None, columns(f"person_id text, {_MIS_PERSON}, recorded_on date")),
)

SOCIALCARE = SourceSystem(
    "socialcare",
    "socialcare.sqlite",
    "person_id",
    Table(
        "people",
        None,
        columns(
            "person_id text, forename text, surname text, dob date, gender text, nhs_number text, "
            "address_lines json, town text, postcode text, uprn text, person_type text, created_on date"
        ),
    ),
    (
        Table("involvement", "contact"),
        Table("current_status", "social_care_history.current_status"),
        Table("contacts", "social_care_history.contacts"),
        Table("cin_plans", "social_care_history.cin_plans"),
        Table("cp_plans", "social_care_history.cp_plans"),
        Table("looked_after", "social_care_history.looked_after"),
        Table("children_removed", "social_care_history.children_removed"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob", "nhs_number"),
)

PROBATION = SourceSystem(
    "probation",
    "probation.sqlite",
    "crn",
    Table(
        "offenders",
        None,
        columns(
            "crn text, forename text, surname text, dob date, gender text, pnc text, address_lines json, "
            "town text, postcode text, created_on date"
        ),
    ),
    (
        Table("involvement", "contact"),
        Table("supervision", "probation"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob", "pnc"),
)

YOUTHJUSTICE = SourceSystem(
    "youthjustice",
    "youthjustice.sqlite",
    "yot_id",
    Table(
        "young_people",
        None,
        columns(
            "yot_id text, forename text, surname text, dob date, gender text, address_lines json, town text, "
            "postcode text, created_on date"
        ),
    ),
    (
        Table("involvement", "contact"),
        Table("allocations", "youth_justice.allocations"),
        Table("orders", "youth_justice.orders"),
        Table("interventions", "youth_justice.interventions"),
        Table("ooc_disposals", "youth_justice.out_of_court_disposals"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob"),
)

HOUSING = SourceSystem(
    "housing",
    "housing.sqlite",
    "person_ref",
    Table(
        "people",
        None,
        columns(
            "person_ref text, forename text, surname text, dob date, gender text, address_lines json, "
            "town text, postcode text, uprn text, created_on date, "
            # The property is flagged: a refuge, or temporary accommodation for a household that has fled.
            "address_confidential bool"
        ),
    ),
    (
        Table("involvement", "contact"),
        Table("tenancies", "housing.tenancies"),
        Table("asb_complaints", "housing.asb_complaints"),
        Table("notices", "housing.notices"),
    ),
    person_indexes=("surname COLLATE NOCASE", "dob"),
)

STORES: dict[str, SourceSystem] = {
    s.agency: s for s in (POLICE, HEALTH, EDUCATION, SOCIALCARE, PROBATION, YOUTHJUSTICE, HOUSING)
}
