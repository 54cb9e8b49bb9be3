"""What the intake decides of a referral and its case, beside the messages it publishes: Referral.v2's
facts, the case's ground, one enquiry's terms, and the sealed referral details and case notes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from jigsaw.wire.envelope import SectionInput

__all__ = ["Ask", "CaseGround", "ReferralFacts", "details", "notes"]


@dataclass(frozen=True)
class ReferralFacts:
    """What Referral.v2 adds, decided at intake. The child's own words travel sealed; the body says only
    whether they were recorded."""

    referrer_type: str = "UNKNOWN"
    referrer_anonymity_from_family: bool = False
    immediate_risk: bool | None = None
    parents_aware: bool | None = None
    child_voice: str | None = None
    incident_date: date | None = None
    actions_taken: str | None = None


@dataclass(frozen=True)
class CaseGround:
    """The case's own para 18(2) ground and whether the family was told, from its consent records."""

    ground: str | None = None
    family_informed: bool | None = None
    not_informed_reason: str | None = None


@dataclass(frozen=True)
class Ask:
    rag: str
    purpose: str
    received_at: int
    immediate_risk: bool | None
    ground: CaseGround
    requested_by: str


def details(child: str, source_type: str, summary: str, facts: ReferralFacts) -> dict[str, Any]:
    concern = {
        "kind": "ALLEGATION",
        "source": source_type.lower(),
        "recorded_on": date.today(),
        "source_ref": None,
        "summary": summary,
        "incident_date": facts.incident_date,
        "child_voice": facts.child_voice,
        "immediate_risk": facts.immediate_risk,
        "parents_aware": facts.parents_aware,
        "actions_taken": facts.actions_taken,
    }
    return {"subject_ref": child, "concerns": [concern]}


def notes(*notes: tuple[str, str | None, str | None]) -> list[SectionInput]:
    """One sealed case-notes section holding the notes that say something; none if no note does."""
    written = [{"kind": k, "text": text or "", "decided_by": by} for k, text, by in notes if text or by]
    return [SectionInput("case_notes", {"subject_ref": "", "notes": written})] if written else []
