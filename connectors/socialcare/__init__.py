"""The children's social care reference connector, over the case management system's database
(deploy/connectors/socialcare.yaml): current status, contacts and referrals, child in need and child
protection plans, looked-after episodes, and children removed from a parent's care before. A contact naming
a social work, children in care or early help team travels as ``contact_social_care_history``; the
plain ``contact`` names the front door. The council's person id travels as ``identifier_local``, a
child's NHS number as ``identifier_nhs``."""

from __future__ import annotations

from typing import ClassVar, Literal

from connectors.sdk import records
from connectors.sdk.base import Connector, SourceRecord
from connectors.sdk.fields import Date, OptDate, OptStr

CASE_SYSTEM = "children's social care case management system"


class Contact(records.Contact):
    source_system: ClassVar[str] = CASE_SYSTEM

    agency: str = "socialcare"


class CurrentStatus(records.UkSourceRecord):
    list_field: ClassVar[str] = "current_status"
    source_system: ClassVar[str] = CASE_SYSTEM

    case_open: bool
    allocated_social_worker: bool
    involvement: Literal[
        "NONE", "EARLY_HELP", "CHILD_IN_NEED", "CHILD_PROTECTION", "LOOKED_AFTER", "CARE_LEAVER", "OTHER"
    ]
    team: OptStr = None


class CareContact(records.UkSourceRecord):
    """A contact or referral to children's social care, and what became of it."""

    list_field: ClassVar[str] = "contacts"
    source_system: ClassVar[str] = CASE_SYSTEM

    contact_date: Date
    contact_type: Literal["CONTACT", "REFERRAL", "EARLY_HELP_REQUEST", "OTHER"]
    contact_source: str
    primary_concern: OptStr = None
    outcome: str


class CinPlan(records.UkSourceRecord):
    list_field: ClassVar[str] = "cin_plans"
    source_system: ClassVar[str] = CASE_SYSTEM

    start_date: Date
    end_date: OptDate = None
    primary_need: OptStr = None
    local_authority: OptStr = None
    closure_reason: OptStr = None


class CpPlan(records.UkSourceRecord):
    list_field: ClassVar[str] = "cp_plans"
    source_system: ClassVar[str] = CASE_SYSTEM

    category: Literal["NEGLECT", "PHYSICAL_ABUSE", "SEXUAL_ABUSE", "EMOTIONAL_ABUSE", "MULTIPLE", "OTHER"]
    start_date: Date
    end_date: OptDate = None
    local_authority: OptStr = None


class LookedAfter(records.UkSourceRecord):
    list_field: ClassVar[str] = "looked_after"
    source_system: ClassVar[str] = CASE_SYSTEM

    legal_status: Literal[
        "INTERIM_CARE_ORDER",
        "FULL_CARE_ORDER",
        "PLACEMENT_ORDER",
        "SECTION_20",
        "POLICE_PROTECTION",
        "EMERGENCY_PROTECTION_ORDER",
        "CHILD_ASSESSMENT_ORDER",
        "REMANDED",
        "SHORT_BREAKS",
        "OTHER",
    ]
    start_date: Date
    end_date: OptDate = None
    placement_type: OptStr = None
    placing_authority: OptStr = None


class ChildRemoved(records.UkSourceRecord):
    """A child removed from this person's care before (a care or placement order): a previous removal
    raises the risk of a new contact sharply, and counts as a re-referral."""

    list_field: ClassVar[str] = "children_removed"
    source_system: ClassVar[str] = CASE_SYSTEM

    removed_on: Date
    order: OptStr = None


class SocialCareConnector(Connector):
    records: ClassVar[dict[str, type[SourceRecord]]] = {
        **records.identity_records(CASE_SYSTEM, "identifier_nhs", "identifier_local"),
        "contact": Contact,
        "social_care_history.current_status": CurrentStatus,
        "social_care_history.contacts": CareContact,
        "social_care_history.cin_plans": CinPlan,
        "social_care_history.cp_plans": CpPlan,
        "social_care_history.looked_after": LookedAfter,
        "social_care_history.children_removed": ChildRemoved,
    }
