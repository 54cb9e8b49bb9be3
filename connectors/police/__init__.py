"""The police reference connector: incidents and who to contact, from the force's records database."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from connectors.sdk.base import Connector, SourceRecord


class Incident(SourceRecord):
    list_field: ClassVar[str] = "incidents"
    source_system: ClassVar[str] = "police records management system"

    incident_ref: str
    incident_date: date
    incident_type: str
    subject_role: Literal[
        "VICTIM", "SUSPECT", "OFFENDER", "WITNESS", "PRESENT", "REPORTING_PERSON", "MISSING_PERSON", "OTHER"
    ]
    child_present: bool | None = None
    domestic_abuse: bool = False
    summary: str
    location_postcode: str | None = None
    ppn_submitted: bool = False


class Contact(SourceRecord):
    list_field: ClassVar[str] = "contacts"
    source_system: ClassVar[str] = "police records management system"

    known: bool = True
    agency: str = "police"
    contact_team: str | None = "MASH police desk"
    contact_phone: str | None = None


class PoliceConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {"police_incidents": Incident, "contact": Contact}
