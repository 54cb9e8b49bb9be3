"""The education reference connector, over a school MIS's CSV exports (deploy/connectors/education.yaml).

The MIS exports pupils (with their UPN) and their parents and carers as contacts, and writes dates as
``DD/MM/YYYY``; the record models read those columns as they are. The UPN is for education use only
(DfE UPN guidance), so it travels as its own category, ``identifier_upn``.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Blank, Date, OptDate, OptFloat, OptInt, OptStr

MIS = "school MIS"


class Identifier(records.Upn):
    """The pupil's UPN, from the pupils export: an education-only identifier."""

    source_system: ClassVar[str] = MIS

    value: str = Field(validation_alias="upn")
    issuer: OptStr = "DfE UPN (allocated by the school)"
    verified: bool = True
    valid_from: Date = Field(validation_alias="admission_date")


class Contact(records.Contact):
    source_system: ClassVar[str] = MIS

    agency: str = "education"
    contact_role: OptStr = "Designated Safeguarding Lead"


class Attendance(records.UkSourceRecord):
    list_field: ClassVar[str] = "attendance"
    source_system: ClassVar[str] = MIS

    school_name: str
    school_urn: OptStr = None
    academic_year: str = Field(pattern=r"^[0-9]{4}/[0-9]{2}$")
    attendance_percent: float = Field(ge=0, le=100)
    possible_sessions: OptInt = None
    unauthorised_absence_sessions: int = Field(ge=0)
    persistent_absence: bool
    severe_absence: bool
    children_missing_education: bool = False
    elective_home_education: bool = False
    on_roll_from: OptDate = None
    on_roll_to: OptDate = None


class MissingEpisode(records.UkSourceRecord):
    list_field: ClassVar[str] = "missing_episodes"
    source_system: ClassVar[str] = MIS

    episode_type: Literal["CHILD_MISSING_EDUCATION", "MISSING_FROM_SCHOOL", "OTHER"]
    start_date: Date
    end_date: OptDate = None
    notes: OptStr = None


class EncompassNotification(records.UkSourceRecord):
    """Operation Encompass: the police told the school of a domestic abuse incident before the school day."""

    list_field: ClassVar[str] = "encompass_notifications"
    source_system: ClassVar[str] = MIS

    notification_date: Date
    incident_ref: str
    school_name: OptStr = None
    key_adult_role: OptStr = None


PrimaryNeed = Literal[
    "SPECIFIC_LEARNING_DIFFICULTY",
    "MODERATE_LEARNING_DIFFICULTY",
    "SEVERE_LEARNING_DIFFICULTY",
    "PROFOUND_MULTIPLE_LEARNING_DIFFICULTY",
    "SOCIAL_EMOTIONAL_MENTAL_HEALTH",
    "SPEECH_LANGUAGE_COMMUNICATION",
    "HEARING_IMPAIRMENT",
    "VISION_IMPAIRMENT",
    "MULTI_SENSORY_IMPAIRMENT",
    "PHYSICAL_DISABILITY",
    "AUTISM",
    "NO_SPECIALIST_ASSESSMENT",
    "OTHER",
]


class Sen(records.UkSourceRecord):
    list_field: ClassVar[str] = "sen"
    source_system: ClassVar[str] = MIS

    sen_status: Literal["NONE", "SEN_SUPPORT", "EHCP", "NOT_KNOWN"]
    primary_need: Annotated[PrimaryNeed | None, Blank] = None
    ehcp_start_date: OptDate = None
    school_name: OptStr = None
    academic_year: OptStr = None


class Exclusion(records.UkSourceRecord):
    list_field: ClassVar[str] = "exclusions"
    source_system: ClassVar[str] = MIS

    exclusion_type: Literal["SUSPENSION", "FIXED_TERM", "PERMANENT", "OTHER"]
    start_date: Date
    days: OptFloat = None
    reason: str
    school_name: OptStr = None


class EducationConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(MIS),
        "identifier_upn": Identifier,
        "contact": Contact,
        "education_attendance.attendance": Attendance,
        "education_attendance.missing_episodes": MissingEpisode,
        "education_attendance.encompass_notifications": EncompassNotification,
        "education_sen_exclusions.sen": Sen,
        "education_sen_exclusions.exclusions": Exclusion,
    }
