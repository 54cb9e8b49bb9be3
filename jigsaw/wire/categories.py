"""Data categories: the unit the broker decides on. Each names its payload schema.

The classification here is the wire default a connector seals with; the information sharing agreement
(the policy) is what decides who may see a category.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Classification(StrEnum):
    OFFICIAL = "OFFICIAL"
    OFFICIAL_SENSITIVE = "OFFICIAL_SENSITIVE"


@dataclass(frozen=True)
class Category:
    id: str
    schema: str
    classification: Classification


_O, _OS = Classification.OFFICIAL, Classification.OFFICIAL_SENSITIVE

# The categories whose involvement a screening answer can reveal by a team's or a service's name.
CONTACT_REVEALS: tuple[str, ...] = (
    "police_intelligence",
    "probation",
    "health_summary",
    "mental_health",
    "social_care_history",
    "youth_justice",
    # A school's name locates a child who has fled: its contact is the attendance data's, locating too.
    "education_attendance",
)
# Identifier schemes, each its own category: Identity.v2 carries names and details only.
IDENTIFIER_SCHEMES: tuple[str, ...] = ("nhs", "upn", "pnc", "local")

CATEGORIES: dict[str, Category] = {
    c.id: c
    for c in (
        Category("identity", "jigsaw.payload.Identity", _O),
        Category("contact", "jigsaw.payload.Contact", _O),
        # A screening answer whose team or service name would itself reveal another category's fact (a sex
        # offender management team, a drug service, CAMHS) travels as that category's own contact, so that
        # the broker can release it only to a desk that may know the fact.
        *(Category(f"contact_{c}", "jigsaw.payload.Contact", _OS) for c in CONTACT_REVEALS),
        # Identifiers travel one scheme to a section, so that each scheme is released by role.
        *(Category(f"identifier_{s}", "jigsaw.payload.Identifiers", _O) for s in IDENTIFIER_SCHEMES),
        # Addresses, postcodes and property references, withheld under a confidential-address marker.
        Category("address", "jigsaw.payload.Addresses", _O),
        Category("referral_details", "jigsaw.payload.ReferralDetails", _OS),
        Category("referrer_identity", "jigsaw.payload.ReferrerIdentity", _OS),
        Category("police_incidents", "jigsaw.payload.PoliceIncidents", _OS),
        Category("police_convictions", "jigsaw.payload.PoliceConvictions", _OS),
        Category("police_intelligence", "jigsaw.payload.PoliceIntelligence", _OS),
        Category("domestic_abuse", "jigsaw.payload.DomesticAbuse", _OS),
        Category("victim_safe_contact", "jigsaw.payload.VictimSafeContact", _OS),
        Category("probation", "jigsaw.payload.ProbationOffenderManagement", _OS),
        Category("health_summary", "jigsaw.payload.HealthSummary", _OS),
        Category("mental_health", "jigsaw.payload.MentalHealth", _OS),
        Category("education_attendance", "jigsaw.payload.EducationAttendance", _O),
        Category("education_sen_exclusions", "jigsaw.payload.EducationSenExclusions", _O),
        Category("social_care_history", "jigsaw.payload.SocialCareHistory", _OS),
        Category("youth_justice", "jigsaw.payload.YouthJustice", _OS),
        Category("housing", "jigsaw.payload.HousingTenancy", _O),
        Category("case_notes", "jigsaw.payload.CaseNotes", _OS),
    )
}

# The body schema each kind of envelope carries.
BODY_SCHEMAS: dict[str, str] = {
    "REFERRAL": "jigsaw.body.Referral",
    "ENQUIRY": "jigsaw.body.Enquiry",
    "INTEL": "jigsaw.body.IntelReturn",
    "CONSENT": "jigsaw.body.Consent",
    "ASSIGNMENT": "jigsaw.body.Assignment",
    "DECISION": "jigsaw.body.Decision",
    "RELEASE": "jigsaw.body.Release",
    "AUDIT": "jigsaw.body.AuditRecord",
    "KEY": "jigsaw.body.KeyRecord",
    "DEAD_LETTER": "jigsaw.body.DeadLetter",
    "REPORT": "jigsaw.body.Report",
}

# What a REPORT may carry, sealed to the MASH front door's hub: what its intake needs to open the referral.
# An agency's ``publishes`` names what it may put in a return; a report is the intake's, not a return.
REPORT_CATEGORIES: frozenset[str] = frozenset(
    {
        "identity",
        *(f"identifier_{s}" for s in IDENTIFIER_SCHEMES),
        "address",
        "referral_details",
        "referrer_identity",
    }
)
