"""The referral an unsolicited report asks the MASH front door to open, as a REPORT message.

A connector holds no credential of the hub's: it publishes the REPORT on its own intelligence topic, in
the outbox transaction of the report's return and under the same referral id, and the front door's hub
reads it from there and opens the referral. So an unreachable hub, or Kafka, loses nothing, and a restart
sends nothing twice. The clear body holds no personal data; the subjects' identities, the narrative and
any referrer are sections sealed to the front door's hub alone.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from jigsaw.wire.categories import REPORT_CATEGORIES
from jigsaw.wire.envelope import SectionInput

_STRICT = ConfigDict(extra="forbid", frozen=True)
_Name = Annotated[str, Field(min_length=1, max_length=100)]


class ReportSubject(BaseModel):
    """A person the report is about, as the agency holds them."""

    model_config = _STRICT

    subject_ref: Annotated[str, Field(pattern=r"^S[0-9]{1,3}$")]
    role: str = Field(
        description="CHILD, PARENT, CARER, SIBLING, HOUSEHOLD_MEMBER, ALLEGED_PERPETRATOR, OTHER"
    )
    given_names: _Name
    family_name: _Name
    dob: date | None = None
    postcode: Annotated[str, Field(max_length=10)] | None = None
    nhs: str | None = None
    upn: str | None = None
    pnc: str | None = None


class ReportReferrer(BaseModel):
    """Who raised the concern at the agency (an officer, a designated safeguarding lead)."""

    model_config = _STRICT

    name: _Name
    relationship_to_child: _Name
    is_professional: bool = True
    organisation: str | None = None
    phone: str | None = None
    wishes_anonymity: bool = False


class ReportReferral(BaseModel):
    """What the front door needs to open the referral: the hub API's referral body, less its id.

    Codes (role, concerns, source_type, rag) are the Referral schema's symbols; the front door holds a
    report to the same rules as a referral posted to its API and refuses one it would refuse there.
    """

    model_config = _STRICT

    subjects: Annotated[list[ReportSubject], Field(min_length=1, max_length=12)]
    concerns: Annotated[list[str], Field(min_length=1)]
    source_type: str
    rag: str = "UNKNOWN"
    summary: Annotated[str, Field(min_length=1, max_length=2000)]
    referrer: ReportReferrer | None = None


def report_message(
    referral: ReportReferral, *, agency: str, source: str, return_msg_id: str
) -> tuple[dict[str, Any], list[SectionInput]]:
    """The REPORT's clear body and its sections (to be sealed to the front door's hub)."""
    today = date.today()
    subjects = referral.subjects
    child = next((s.subject_ref for s in subjects if s.role == "CHILD"), subjects[0].subject_ref)
    body = {
        "agency": agency,
        "return_msg_id": return_msg_id,
        "source_type": referral.source_type,
        "rag": referral.rag,
        "concerns": list(referral.concerns),
        "subject_refs": [{"subject_ref": s.subject_ref, "role": s.role} for s in subjects],
    }
    sections = [section for s in subjects for section in _identity(s, source, today)]
    concern = {"kind": "ALLEGATION", "source": source, "recorded_on": today, "summary": referral.summary}
    sections.append(SectionInput("referral_details", {"subject_ref": child, "concerns": [concern]}))
    if referral.referrer is not None:
        who = {"kind": "FACT", "source": source, "recorded_on": today, **referral.referrer.model_dump()}
        sections.append(SectionInput("referrer_identity", {"subject_ref": child, "referrers": [who]}))
    return body, sections


def _identity(s: ReportSubject, source: str, today: date) -> list[SectionInput]:
    """The subject's identity (names and details), and each identifier scheme and the postcode in their
    own sections, as far as a REPORT may carry them (``REPORT_CATEGORIES``)."""
    item = {"kind": "FACT", "source": source, "recorded_on": today}
    ref = s.subject_ref
    out = [
        SectionInput(
            "identity",
            {
                "subject_ref": ref,
                "names": [
                    {**item, "name_type": "LEGAL", "given_names": s.given_names, "family_name": s.family_name}
                ],
                "details": [
                    {
                        **item,
                        "date_of_birth": s.dob,
                        "dob_estimated": False,
                        "unborn": False,
                        "gender": "NOT_STATED",
                    }
                ],
            },
        )
    ]
    for scheme, value in (("nhs", s.nhs), ("upn", s.upn), ("pnc", s.pnc)):
        if value:
            ident = {**item, "scheme": scheme.upper(), "value": value, "verified": False, "valid_from": today}
            out.append(SectionInput(f"identifier_{scheme}", {"subject_ref": ref, "identifiers": [ident]}))
    if s.postcode:
        address = {**item, "address_type": "HOME", "postcode": s.postcode, "no_fixed_abode": False}
        out.append(SectionInput("address", {"subject_ref": ref, "addresses": [address]}))
    return [section for section in out if section.category in REPORT_CATEGORIES]
