"""Intake: open a referral, send its enquiries, and record assignments, RAG changes, outcomes and consent.

Everything is published as the hub participant. The referral is sealed to the broker only, and released
from there section by section; each enquiry is sealed only to the one agency it addresses.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from jigsaw.bus.clients import Producer
from jigsaw.bus.records import HEADER_KIND, HEADER_MSG_ID
from jigsaw.ids import new_msg_id, new_referral_id
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, SectionInput
from jigsaw.wire.framing import now_micros

HOUR_US = 3_600_000_000
# What a MASH asks each kind of agency for once a case is rated; at screening, only whether it knows them.
ASKS: dict[str, list[str]] = {
    # The MARAC's safe contact details are asked for so that the broker records withholding them.
    "police": [
        "police_incidents",
        "police_convictions",
        "police_intelligence",
        "domestic_abuse",
        "victim_safe_contact",
    ],
    "health": ["health_summary", "mental_health"],
    "education": ["education_attendance", "education_sen_exclusions"],
    "socialcare": ["social_care_history"],
    "probation": ["probation"],
    "youthjustice": ["youth_justice"],
    "housing": ["housing"],
}
SCREENING_ASK = ["identity", "contact"]
LAWFUL_BASIS = "UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18 (safeguarding of children)"


@dataclass(frozen=True)
class SubjectIn:
    subject_ref: str
    role: str
    given_names: str
    family_name: str
    dob: date | None = None
    postcode: str | None = None
    nhs: str | None = None
    upn: str | None = None
    pnc: str | None = None

    def identity(self, source: str) -> dict[str, Any]:
        today = date.today()
        ids = [
            {
                "kind": "FACT",
                "source": source,
                "recorded_on": today,
                "scheme": scheme,
                "value": value,
                "verified": False,
                "valid_from": today,
            }
            for scheme, value in (("NHS", self.nhs), ("UPN", self.upn), ("PNC", self.pnc))
            if value
        ]
        return {
            "subject_ref": self.subject_ref,
            "names": [
                {
                    "kind": "FACT",
                    "source": source,
                    "recorded_on": today,
                    "name_type": "LEGAL",
                    "given_names": self.given_names,
                    "family_name": self.family_name,
                }
            ],
            "details": [
                {
                    "kind": "FACT",
                    "source": source,
                    "recorded_on": today,
                    "date_of_birth": self.dob,
                    "dob_estimated": False,
                    "unborn": False,
                    "gender": "NOT_STATED",
                }
            ],
            "identifiers": ids,
            "addresses": [
                {
                    "kind": "FACT",
                    "source": source,
                    "recorded_on": today,
                    "address_type": "HOME",
                    "postcode": self.postcode,
                    "no_fixed_abode": False,
                }
            ]
            if self.postcode
            else [],
        }


class Intake:
    def __init__(
        self,
        envelopes: Envelopes,
        producer: Producer,
        topics: Topics,
        agencies: Mapping[str, str],
        timescales_h: Mapping[str, float],
        broker: str = "broker",
    ) -> None:
        self.envelopes = envelopes
        self.producer = producer
        self.topics = topics
        self.agencies = dict(agencies)  # agency type -> participant id
        self.timescales_h = dict(timescales_h)
        self.broker = broker

    async def _publish(
        self,
        topic: str,
        kind: str,
        rid: str,
        body: Mapping[str, Any],
        sections: Sequence[SectionInput] = (),
        recipients: Sequence[str] = (),
    ) -> str:
        msg_id = new_msg_id()
        value = self.envelopes.seal(
            kind=kind,
            referral_id=rid,
            body=body,
            sections=list(sections),
            recipients=list(recipients),
            msg_id=msg_id,
        )
        headers = [(HEADER_MSG_ID, msg_id.encode()), (HEADER_KIND, kind.encode())]
        await self.producer.send_and_wait(topic, value, key=rid.encode(), headers=headers)
        return msg_id

    def deadline(self, rag: str, sent_at: int) -> int:
        hours = self.timescales_h.get(rag, self.timescales_h["GREEN"])
        return sent_at + int(hours * HOUR_US)

    async def open_referral(
        self,
        *,
        subjects: Sequence[SubjectIn],
        concerns: Sequence[str],
        source_type: str,
        rag: str,
        summary: str,
        referrer: Mapping[str, Any] | None,
        agencies: Sequence[str] | None = None,
        requested_by: str = "mash",
        referral_id: str | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        # An agency's unsolicited report brings its own id, so its return and this referral meet.
        rid = referral_id or new_referral_id()
        now = now_micros()
        today = date.today()
        child = next((s.subject_ref for s in subjects if s.role == "CHILD"), subjects[0].subject_ref)
        sections = [SectionInput("identity", s.identity("mash intake")) for s in subjects]
        sections.append(
            SectionInput(
                "referral_details",
                {
                    "subject_ref": child,
                    "concerns": [
                        {
                            "kind": "ALLEGATION",
                            "source": source_type.lower(),
                            "recorded_on": today,
                            "summary": summary,
                        }
                    ],
                },
            )
        )
        if referrer:
            sections.append(
                SectionInput(
                    "referrer_identity",
                    {
                        "subject_ref": child,
                        "referrers": [
                            {"kind": "FACT", "source": "mash intake", "recorded_on": today, **referrer}
                        ],
                    },
                )
            )
        body = {
            "source_type": source_type,
            "rag": rag,
            "received_at": now,
            "concerns": list(concerns),
            "subject_refs": [{"subject_ref": s.subject_ref, "role": s.role} for s in subjects],
            "existing_social_worker": False,
        }
        await self._publish(self.topics.referrals, "REFERRAL", rid, body, sections, [self.broker])
        sent = []
        for agency in agencies or sorted(self.agencies):
            sent.append(await self._enquire(rid, agency, subjects, rag, now, requested_by))
        return rid, sent

    async def _enquire(
        self, rid: str, agency: str, subjects: Sequence[SubjectIn], rag: str, now: int, requested_by: str
    ) -> dict[str, Any]:
        screening = rag not in ("RED", "AMBER", "GREEN")
        categories = SCREENING_ASK if screening else [*SCREENING_ASK, *ASKS.get(agency, [])]
        deadline = self.deadline(rag, now)
        body = {
            "enquiry_id": str(uuid.uuid4()),
            "addressed_agencies": [self.agencies[agency]],
            "subject_refs": [s.subject_ref for s in subjects],
            "categories": categories,
            "purpose": "SCREENING" if screening else "TRIAGE",
            "lawful_basis": LAWFUL_BASIS,
            "legal_reason": "Children Act 1989 s47 / s17",
            "isa_ref": "MASH-ISA",
            "rag": rag,
            "deadline": deadline,
            "requested_by": requested_by,
        }
        identities = [SectionInput("identity", s.identity("mash intake")) for s in subjects]
        await self._publish(self.topics.enquiries, "ENQUIRY", rid, body, identities, [self.agencies[agency]])
        return {
            "enquiry_id": body["enquiry_id"],
            "agency": agency,
            "categories": categories,
            "deadline_us": deadline,
        }

    async def assign(self, rid: str, subscribers: Sequence[str], by: str, action: str = "ASSIGN") -> str:
        body = {
            "subscribers": list(subscribers),
            "action": action,
            "assigned_by": by,
            "assigned_at": now_micros(),
        }
        return await self._publish(self.topics.assignments, "ASSIGNMENT", rid, body)

    async def change_rag(self, rid: str, rag_from: str | None, rag_to: str, reason: str, by: str) -> str:
        return await self._decision(rid, "RAG_CHANGE", reason, by, rag_from=rag_from, rag_to=rag_to)

    async def decide(
        self, rid: str, outcome: str, reason: str, by: str, feedback: dict[str, Any] | None
    ) -> str:
        return await self._decision(rid, "OUTCOME", reason, by, outcome=outcome, referrer_feedback=feedback)

    async def approve_review(
        self,
        rid: str,
        msg_id: str,
        subscriber: str,
        category: str,
        subject_ref: str,
        approved: bool,
        reason: str,
        by: str,
    ) -> str:
        target = {
            "msg_id": msg_id,
            "subscriber": subscriber,
            "category": category,
            "subject_ref": subject_ref,
            "approved": approved,
        }
        return await self._decision(rid, "REVIEW_APPROVAL", reason, by, review_target=target)

    async def _decision(self, rid: str, kind: str, reason: str, by: str, **fields: Any) -> str:
        # The reason and the decision maker are free text: they travel sealed, as case notes the broker
        # releases by the agreement, and the clear body carries neither.
        body = {
            "decision_id": str(uuid.uuid4()),
            "kind": kind,
            "rag_from": None,
            "rag_to": None,
            "outcome": None,
            "reason": "",
            "decided_by": "",
            "decided_at": now_micros(),
            "referrer_feedback": None,
            "review_target": None,
            **fields,
        }
        notes = _notes(("DECISION_REASON", reason, by))
        return await self._publish(self.topics.decisions, "DECISION", rid, body, notes, [self.broker])

    async def consent(
        self,
        rid: str,
        kind: str,
        scope: str,
        *,
        family_informed: bool | None,
        not_informed_reason: str | None,
        decided_by: str | None,
        reason: str | None,
    ) -> str:
        body = {
            "consent_id": str(uuid.uuid4()),
            "kind": kind,
            "scope": scope,
            "family_informed": family_informed,
            "not_informed_reason": None,
            "decided_by": None,
            "reason": None,
            "recorded_at": now_micros(),
        }
        notes = _notes(
            ("CONSENT_REASON", reason, decided_by), ("NOT_INFORMED_REASON", not_informed_reason, decided_by)
        )
        return await self._publish(self.topics.consent, "CONSENT", rid, body, notes, [self.broker])


def _notes(*notes: tuple[str, str | None, str | None]) -> list[SectionInput]:
    """One sealed case-notes section holding the notes that say something; none if no note does."""
    written = [{"kind": k, "text": text or "", "decided_by": by} for k, text, by in notes if text or by]
    return [SectionInput("case_notes", {"subject_ref": "", "notes": written})] if written else []
