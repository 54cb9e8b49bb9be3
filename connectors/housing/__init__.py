"""The housing reference connector, over a housing management system's database
(deploy/connectors/housing.yaml): tenancies with arrears and property flags, anti-social behaviour
complaints, and notices. A refuge or temporary accommodation address whose location is confidential is
marked in the system, and the return marks the addresses it holds (scope ADDRESS) so that the broker
withholds them; the housing person reference travels as ``identifier_local``."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Date, OptDate, OptInt, OptStr, json_list

HMS = "housing management system"

PropertyFlag = Literal[
    "CUCKOOING_RISK",
    "DRUG_ACTIVITY",
    "STAFF_SAFETY",
    "HOARDING",
    "DAMP_MOULD",
    "DISREPAIR",
    "OVERCROWDING",
    "OTHER",
]


class Contact(records.Contact):
    source_system: ClassVar[str] = HMS

    agency: str = "housing"


class ConfidentialAddress(records.ConfidentialAddress):
    """A property flagged as a confidential address (a refuge, or temporary accommodation for a household
    that has fled): only the addresses housing holds are marked."""

    source_system: ClassVar[str] = HMS

    scope: Literal["PERSON", "ADDRESS"] = "ADDRESS"


class Tenancy(records.UkSourceRecord):
    list_field: ClassVar[str] = "tenancies"
    source_system: ClassVar[str] = HMS

    tenure_type: Literal[
        "SECURE",
        "INTRODUCTORY",
        "FLEXIBLE",
        "ASSURED",
        "ASSURED_SHORTHOLD",
        "TEMPORARY_ACCOMMODATION",
        "LICENCE",
        "OWNER_OCCUPIER",
        "OTHER",
    ]
    tenancy_start: Date
    tenancy_end: OptDate = None
    landlord: str
    lead_tenant: bool
    postcode: OptStr = None
    uprn: OptStr = None
    household_size: OptInt = None
    arrears_pence: OptInt = None
    arrears_status: Literal["NONE", "IN_ARREARS", "ARRANGEMENT_IN_PLACE", "LEGAL_ACTION", "NOT_KNOWN"]
    property_flags: Annotated[list[PropertyFlag], BeforeValidator(json_list)] = Field(default_factory=list)


class AsbComplaint(records.UkSourceRecord):
    list_field: ClassVar[str] = "asb_complaints"
    source_system: ClassVar[str] = HMS

    complaint_date: Date
    complaint_type: str
    subject_role: Literal["ALLEGED_PERPETRATOR", "VICTIM", "WITNESS", "OTHER"]
    outcome: OptStr = None


class Notice(records.UkSourceRecord):
    list_field: ClassVar[str] = "notices"
    source_system: ClassVar[str] = HMS

    notice_type: Literal[
        "NOTICE_SEEKING_POSSESSION",
        "SECTION_21",
        "SECTION_8",
        "POSSESSION_ORDER",
        "EVICTION_WARRANT",
        "INJUNCTION",
        "CLOSURE_ORDER",
        "OTHER",
    ]
    served_date: Date
    expiry_date: OptDate = None
    grounds: OptStr = None


class HousingConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(HMS, "identifier_local"),
        "contact": Contact,
        records.MARKERS: ConfidentialAddress,
        "housing.tenancies": Tenancy,
        "housing.asb_complaints": AsbComplaint,
        "housing.notices": Notice,
    }
