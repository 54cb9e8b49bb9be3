"""The police reference connector, over the force's records database (deploy/connectors/police.yaml).

It answers for incidents, convictions and PNC markers, intelligence, domestic abuse (DASH, MARAC,
protective orders) and, as its own category, a MARAC victim's safe contact details: the policy redacts
that category, so it travels sealed to the broker and is never released (DomesticAbuse v2 has no field
for them at all). The PNC ID travels as ``identifier_pnc``, addresses as ``address``; a contact whose
team names sex offender management or an intelligence unit travels as ``contact_police_intelligence``
(deploy/connectors/police.yaml ``contacts``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import BeforeValidator, Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Date, JsonList, OptBool, OptDate, OptInt, OptStr, json_list

RMS = "police records management system"
PNC = "Police National Computer"
INTELLIGENCE = "police intelligence system"
MARAC = "police domestic abuse and MARAC records"

IntelTheme = Literal[
    "DRUG_SUPPLY",
    "COUNTY_LINES",
    "CCE",
    "CSE",
    "WEAPONS",
    "GANGS",
    "MODERN_SLAVERY",
    "CUCKOOING",
    "DOMESTIC_ABUSE",
    "MISSING",
    "ONLINE_CSA",
    "RADICALISATION",
    "OTHER",
]


class Incident(SourceRecord):
    list_field: ClassVar[str] = "incidents"
    source_system: ClassVar[str] = RMS

    incident_ref: str
    incident_date: Date
    incident_type: str
    subject_role: Literal[
        "VICTIM", "SUSPECT", "OFFENDER", "WITNESS", "PRESENT", "REPORTING_PERSON", "MISSING_PERSON", "OTHER"
    ]
    child_present: OptBool = None
    domestic_abuse: bool = False
    weapons_involved: OptBool = None
    summary: str
    location_postcode: OptStr = None
    crime_ref: OptStr = None
    police_action: OptStr = None
    ppn_submitted: bool = False


class Contact(records.Contact):
    source_system: ClassVar[str] = RMS

    agency: str = "police"
    contact_team: OptStr = "MASH police desk"


class Disposal(records.UkSourceRecord):
    list_field: ClassVar[str] = "disposals"
    source_system: ClassVar[str] = PNC

    disposal_type: Literal[
        "CONVICTION",
        "CAUTION",
        "CONDITIONAL_CAUTION",
        "YOUTH_CAUTION",
        "YOUTH_CONDITIONAL_CAUTION",
        "PENALTY_NOTICE",
        "OTHER",
    ]
    offence: str
    offence_code: OptStr = None
    offence_category: Literal[
        "VIOLENCE",
        "SEXUAL",
        "DOMESTIC_ABUSE",
        "CHILD_RELATED",
        "DRUGS",
        "WEAPONS",
        "ACQUISITIVE",
        "PUBLIC_ORDER",
        "MOTORING",
        "OTHER",
    ]
    offence_date: OptDate = None
    disposal_date: Date
    outcome: str
    court: OptStr = None
    spent: OptBool = None


class Marker(records.UkSourceRecord):
    """A PNC warning marker (VI violent, WE weapons, DR drugs, SU suicidal...)."""

    list_field: ClassVar[str] = "markers"
    source_system: ClassVar[str] = PNC

    marker_code: str
    description: str
    date_applied: OptDate = None
    active: bool


class Bail(records.UkSourceRecord):
    list_field: ClassVar[str] = "bail"
    source_system: ClassVar[str] = RMS

    bail_type: Literal["PRE_CHARGE", "POST_CHARGE", "COURT", "OTHER"]
    offence: OptStr = None
    granted_date: Date
    return_date: OptDate = None
    conditions: JsonList = Field(default_factory=list)
    # Subject refs are the enquiry's, not the force's: a source can only hold them empty.
    no_contact_subject_refs: JsonList = Field(default_factory=list)
    residence_postcode: OptStr = None


class IntelligenceReport(records.UkSourceRecord):
    """A sanitised intelligence report, graded 3x5x2."""

    list_field: ClassVar[str] = "reports"
    source_system: ClassVar[str] = INTELLIGENCE

    source_evaluation: Literal[
        "SOURCE_1_RELIABLE", "SOURCE_2_UNTESTED", "SOURCE_3_NOT_RELIABLE", "NOT_GRADED"
    ]
    intelligence_assessment: Literal[
        "A_KNOWN_DIRECTLY",
        "B_KNOWN_INDIRECTLY_CORROBORATED",
        "C_KNOWN_INDIRECTLY",
        "D_NOT_KNOWN",
        "E_SUSPECTED_FALSE",
        "NOT_GRADED",
    ]
    handling_code: Literal["P_SHARING_PERMITTED", "C_SHARING_WITH_CONDITIONS", "NOT_GRADED"]
    handling_conditions: OptStr = None
    intelligence_date: Date
    summary: str
    themes: Annotated[list[IntelTheme], BeforeValidator(json_list)] = Field(default_factory=list)
    subject_role: Literal["SUBJECT", "ASSOCIATE", "VICTIM", "AT_RISK", "MENTIONED", "OTHER"]
    linked_address_postcode: OptStr = None
    linked_subject_refs: JsonList = Field(default_factory=list)


class DomesticAbuseCase(records.UkSourceRecord):
    """A DASH assessment and MARAC referral. The victim's safe contact is not here: it is its own
    category (``victim_safe_contact``) so that the broker can withhold it whole."""

    list_field: ClassVar[str] = "cases"
    source_system: ClassVar[str] = MARAC

    subject_role: Literal["VICTIM", "PERPETRATOR", "CHILD_IN_HOUSEHOLD", "OTHER"]
    other_party_subject_ref: OptStr = None
    dash_risk_level: Literal["STANDARD", "MEDIUM", "HIGH", "NOT_ASSESSED"]
    dash_score: Annotated[OptInt, Field(ge=0, le=27)] = None
    dash_date: OptDate = None
    incident_count: int = Field(ge=0)
    latest_incident_date: OptDate = None
    children_present: OptBool = None
    marac_referred: bool
    marac_date: OptDate = None
    idva_allocated: OptBool = None


class ProtectiveOrder(records.UkSourceRecord):
    list_field: ClassVar[str] = "protective_orders"
    source_system: ClassVar[str] = MARAC

    order_type: Literal[
        "NON_MOLESTATION_ORDER",
        "OCCUPATION_ORDER",
        "DVPN",
        "DVPO",
        "DAPN",
        "DAPO",
        "RESTRAINING_ORDER",
        "STALKING_PROTECTION_ORDER",
        "FORCED_MARRIAGE_PROTECTION_ORDER",
        "FGM_PROTECTION_ORDER",
        "OTHER",
    ]
    start_date: Date
    end_date: OptDate = None
    protected_subject_ref: OptStr = None
    respondent_subject_ref: OptStr = None
    court: OptStr = None
    conditions: JsonList = Field(default_factory=list)
    breach_count: int = Field(default=0, ge=0)


class SafeContact(records.UkSourceRecord):
    """How to reach a MARAC victim safely. Sealed to the broker, which never releases it."""

    list_field: ClassVar[str] = "safe_contacts"
    source_system: ClassVar[str] = MARAC

    phone: OptStr = None
    address_lines: JsonList = Field(default_factory=list)
    postcode: OptStr = None
    safe_times: OptStr = None
    contact_via: OptStr = None
    notes: OptStr = None


class PoliceConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(RMS, "identifier_pnc"),
        "contact": Contact,
        "police_incidents": Incident,
        "police_convictions.disposals": Disposal,
        "police_convictions.markers": Marker,
        "police_convictions.bail": Bail,
        "police_intelligence": IntelligenceReport,
        "domestic_abuse.cases": DomesticAbuseCase,
        "domestic_abuse.protective_orders": ProtectiveOrder,
        "victim_safe_contact": SafeContact,
    }
