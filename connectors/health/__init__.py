"""The health reference connector, over the health system's HTTP API (deploy/connectors/health.yaml).

Each list has its own source system, and says so in every item's provenance: the GP practice system, the
community health record (health visiting, school nursing), the emergency department, maternity, CAMHS and
the mental health trust. All of it is special-category data. The NHS number travels as
``identifier_nhs``; a patient record's "confidential address" marker marks the person (scope PERSON), so
that the broker withholds every agency's locating details about them. A contact naming CAMHS, mental
health or a drug and alcohol service travels as ``contact_mental_health``, one naming sexual health or
maternity as ``contact_health_summary`` (deploy/connectors/health.yaml ``contacts``).
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Date, OptBool, OptDate, OptStr

SPINE = "NHS Devon shared care record"
GP = "GP practice system"
COMMUNITY = "community health record"
ED = "emergency department system"
MATERNITY = "maternity system"
CAMHS = "CAMHS record"
MENTAL_HEALTH = "mental health trust record"


class Contact(records.Contact):
    source_system: ClassVar[str] = SPINE

    agency: str = "health"


class ConfidentialAddress(records.ConfidentialAddress):
    """The patient record's confidential address marker: the person has fled (a refuge) or must not be
    found; the NHS shows their address to no one without the need."""

    source_system: ClassVar[str] = SPINE


class GpRegistration(records.UkSourceRecord):
    list_field: ClassVar[str] = "gp_registrations"
    source_system: ClassVar[str] = GP

    practice_name: str
    practice_code: OptStr = None
    registered_since: Date
    registered_until: OptDate = None


class CommunityContact(records.UkSourceRecord):
    """A health visiting or school nursing contact; WAS_NOT_BROUGHT is a child missed by their carer."""

    list_field: ClassVar[str] = "community_contacts"
    source_system: ClassVar[str] = COMMUNITY

    service: Literal["HEALTH_VISITING", "SCHOOL_NURSING", "FAMILY_NURSE_PARTNERSHIP", "OTHER"]
    contact_date: Date
    contact_type: str
    attendance: Literal["ATTENDED", "DID_NOT_ATTEND", "WAS_NOT_BROUGHT", "CANCELLED", "NOT_KNOWN"]
    concerns: OptStr = None


class EmergencyAttendance(records.UkSourceRecord):
    list_field: ClassVar[str] = "emergency_attendances"
    source_system: ClassVar[str] = ED

    attendance_date: Date
    reason: str
    site: str
    injury: OptBool = None
    safeguarding_concern_raised: bool
    admitted: bool


class Maternity(records.UkSourceRecord):
    list_field: ClassVar[str] = "maternity"
    source_system: ClassVar[str] = MATERNITY

    booking_date: OptDate = None
    late_booking: bool
    expected_delivery_date: OptDate = None
    delivery_date: OptDate = None
    missed_antenatal_appointments: int = Field(default=0, ge=0)
    unit: OptStr = None
    concerns: OptStr = None


class Camhs(records.UkSourceRecord):
    list_field: ClassVar[str] = "camhs"
    source_system: ClassVar[str] = CAMHS

    status: Literal["REFERRED", "OPEN", "DISCHARGED", "DECLINED", "NOT_KNOWN"]
    referral_date: OptDate = None
    discharge_date: OptDate = None
    team: OptStr = None


class MentalHealthEpisode(records.UkSourceRecord):
    list_field: ClassVar[str] = "episodes"
    source_system: ClassVar[str] = MENTAL_HEALTH

    service: Literal[
        "ADULT_MENTAL_HEALTH", "CAMHS", "PERINATAL", "EARLY_INTERVENTION_PSYCHOSIS", "CRISIS", "OTHER"
    ]
    engagement: Literal["ENGAGED", "DISENGAGED", "DISCHARGED", "NOT_KNOWN"]
    diagnosis_summary: OptStr = None
    open_date: OptDate = None
    discharge_date: OptDate = None
    care_coordinator_role: OptStr = None
    risk_to_self: OptBool = None
    risk_to_others: OptBool = None
    risk_notes: OptStr = None


class CrisisEpisode(records.UkSourceRecord):
    list_field: ClassVar[str] = "crisis_episodes"
    source_system: ClassVar[str] = MENTAL_HEALTH

    episode_date: Date
    episode_type: Literal[
        "SELF_HARM",
        "SUICIDE_ATTEMPT",
        "PSYCHOTIC_EPISODE",
        "MHA_ASSESSMENT",
        "S136_DETENTION",
        "ADMISSION",
        "OTHER",
    ]
    service: OptStr = None
    outcome: OptStr = None


class HealthConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(SPINE, "identifier_nhs"),
        "contact": Contact,
        records.MARKERS: ConfidentialAddress,
        "health_summary.gp_registrations": GpRegistration,
        "health_summary.community_contacts": CommunityContact,
        "health_summary.emergency_attendances": EmergencyAttendance,
        "health_summary.maternity": Maternity,
        "health_summary.camhs": Camhs,
        "mental_health.episodes": MentalHealthEpisode,
        "mental_health.crisis_episodes": CrisisEpisode,
    }
