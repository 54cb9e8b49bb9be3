"""Intake: open a referral, send its enquiries, and record assignments, RAG changes, outcomes, strategy
discussions, confidential-address markers, subjects added mid-way, referrer feedback and consent.

Everything is published as the hub participant. The referral is sealed to the broker only, and released
from there section by section; each enquiry is sealed only to the one agency it addresses, and carries
only the identifier schemes that agency itself publishes (no identifier is shared across agencies).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from collections.abc import Collection, Mapping, Sequence
from datetime import date
from typing import Any

from jigsaw.bus.clients import Producer
from jigsaw.bus.records import HEADER_KIND, HEADER_MSG_ID
from jigsaw.ids import derived_id, new_msg_id, new_referral_id
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, SectionInput
from jigsaw.wire.framing import now_micros
from jigsaw.workhours import WorkingHours
from services.hub.intake_facts import Ask, CaseGround, ReferralFacts, details, notes
from services.hub.stage import RATED
from services.hub.subjects import CHILD_ROLES, SOURCE, SubjectIn
from services.hub.terms import Terms

__all__ = ["ASKS", "CaseGround", "Intake", "ReferralFacts", "SubjectIn"]

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
# Without the agreement's terms (tests, old configurations): what the enquiries said before.
LAWFUL_BASIS = "UK GDPR Art 6(1)(e); DPA 2018 Sch 1 para 18 (safeguarding of children)"


class Intake:
    def __init__(
        self,
        envelopes: Envelopes,
        producer: Producer,
        topics: Topics,
        agencies: Mapping[str, str],
        timescales_h: Mapping[str, float],
        broker: str = "broker",
        *,
        terms: Terms | None = None,
        clock: WorkingHours | None = None,
    ) -> None:
        """``clock``: count timescales in its working hours; None counts clock hours."""
        self.envelopes = envelopes
        self.producer = producer
        self.topics = topics
        self.agencies = dict(agencies)  # agency type -> participant id
        self.timescales_h = dict(timescales_h)
        self.broker = broker
        self.terms = terms
        self.clock = clock
        # The stage enquiries sent by this process, so a retry before the store reads them back is not
        # sent twice (after, the store's own record says so).
        self._staged: OrderedDict[str, None] = OrderedDict()

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

    def timescale_h(self, rag: str, immediate_risk: bool | None = None) -> float:
        """An unrated contact, or one whose referrer says the child is at immediate risk, gets the most
        urgent timescale until someone rates it (DOMAIN.md, "Working hours")."""
        if rag not in RATED or immediate_risk or rag not in self.timescales_h:
            return min(self.timescales_h.values())
        return self.timescales_h[rag]

    def deadline(self, rag: str, sent_at: int, immediate_risk: bool | None = None) -> int:
        hours = self.timescale_h(rag, immediate_risk)
        if self.clock is None:
            return sent_at + int(hours * HOUR_US)
        return self.clock.add_us(sent_at, hours)

    def _publishes(self, agency: str) -> tuple[str, ...] | None:
        if self.terms is None:
            return None
        return self.terms.publishes.get(self.agencies[agency])

    def asks(self, agency: str, purpose: str) -> list[str]:
        """What an enquiry asks ``agency`` for: at screening, whether it knows the subjects and whom to
        contact (the agreement's screening categories it publishes); after, everything it publishes under
        the agreement (its identifiers, addresses and its own data; the broker decides what is released).
        Without the agreement's terms, ``ASKS``."""
        publishes = self._publishes(agency)
        if publishes is None:
            return SCREENING_ASK if purpose == "SCREENING" else [*SCREENING_ASK, *ASKS.get(agency, [])]
        screening = [c for c in (self.terms.screening if self.terms else ()) if c in publishes]
        wanted = dict.fromkeys([*SCREENING_ASK, *screening])
        if purpose != "SCREENING":
            wanted.update(dict.fromkeys(publishes))
        return list(wanted)

    def _basis(self, purpose: str, categories: Sequence[str], participant: str) -> tuple[str, str, str]:
        if self.terms is None or purpose not in self.terms.purposes:
            return LAWFUL_BASIS, "Children Act 1989 s47 / s17", "MASH-ISA"
        basis = self.terms.lawful_basis(purpose, categories, participant)
        return basis, self.terms.purpose(purpose).legal_reason, self.terms.reference

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
        facts: ReferralFacts | None = None,
    ) -> tuple[str, list[dict[str, Any]]]:
        # An agency's unsolicited report brings its own id, so its return and this referral meet.
        rid = referral_id or new_referral_id()
        facts = facts or ReferralFacts()
        now = now_micros()
        child = next((s.subject_ref for s in subjects if s.role in CHILD_ROLES), subjects[0].subject_ref)
        sections = [x for s in subjects for x in s.sections()]
        sections.append(SectionInput("referral_details", details(child, source_type, summary, facts)))
        if referrer:
            item = {
                "kind": "FACT",
                "source": SOURCE,
                "recorded_on": date.today(),
                "wishes_anonymity": False,
                **{k: v for k, v in referrer.items() if v is not None},
            }
            sections.append(SectionInput("referrer_identity", {"subject_ref": child, "referrers": [item]}))
        body = {
            "source_type": source_type,
            "rag": rag,
            "received_at": now,
            "concerns": list(concerns),
            "subject_refs": [s.ref() for s in subjects],
            "existing_social_worker": False,
            "referrer_type": facts.referrer_type,
            "referrer_anonymity_from_family": facts.referrer_anonymity_from_family,
            "immediate_risk": facts.immediate_risk,
            "parents_aware": facts.parents_aware,
            "child_voice_recorded": bool(facts.child_voice),
        }
        await self._publish(self.topics.referrals, "REFERRAL", rid, body, sections, [self.broker])
        purpose = "TRIAGE" if rag in RATED else "SCREENING"
        sent = []
        for agency in agencies or sorted(self.agencies):
            ask = Ask(rag, purpose, now, facts.immediate_risk, CaseGround(), requested_by)
            # A rated contact's enquiries are its triage stage's: a later first rating does not re-ask.
            eid = self._stage_id(rid, agency, purpose) if purpose == "TRIAGE" else None
            sent.append(await self._enquire(rid, agency, subjects, ask, enquiry_id=eid))
        return rid, sent

    def _stage_id(self, rid: str, agency: str, purpose: str) -> str:
        eid = derived_id("stage-enquiry", rid, agency, purpose)
        self._staged[eid] = None
        while len(self._staged) > 100_000:
            self._staged.popitem(last=False)
        return eid

    def beyond_screening(self, agency: str, purpose: str) -> list[str]:
        """What ``agency`` is asked for at ``purpose`` beyond what it was asked at screening."""
        screened = set(self.asks(agency, "SCREENING"))
        return [c for c in self.asks(agency, purpose) if c not in screened]

    async def ask_for_stage(
        self,
        rid: str,
        subjects: Sequence[SubjectIn],
        *,
        rag: str,
        purpose: str,
        immediate_risk: bool | None,
        ground: CaseGround,
        by: str,
        recorded: Collection[str] = (),
    ) -> list[dict[str, Any]]:
        """The case has moved on (a strategy discussion convened, an unrated contact first rated): ask every
        agency for what it publishes beyond the screening categories, for ``purpose``, due by the new
        stage's timescale. Each enquiry's id is derived from the referral, agency and purpose, so one sent
        before (``recorded`` in the store, or by this intake) is not sent again."""
        at = now_micros()
        sent = []
        for agency in sorted(self.agencies):
            categories = self.beyond_screening(agency, purpose)
            eid = derived_id("stage-enquiry", rid, agency, purpose)
            if not categories or not subjects or eid in recorded or eid in self._staged:
                continue
            self._stage_id(rid, agency, purpose)  # before the await: a concurrent retry sees it
            ask = Ask(rag, purpose, at, immediate_risk, ground, by)
            try:
                sent.append(await self._enquire(rid, agency, subjects, ask, categories, eid))
            except BaseException:
                self._staged.pop(eid, None)
                raise
        return sent

    async def _enquire(
        self,
        rid: str,
        agency: str,
        subjects: Sequence[SubjectIn],
        ask: Ask,
        categories: Sequence[str] | None = None,
        enquiry_id: str | None = None,
    ) -> dict[str, Any]:
        participant = self.agencies[agency]
        categories = list(categories) if categories is not None else self.asks(agency, ask.purpose)
        deadline = self.deadline(ask.rag, ask.received_at, ask.immediate_risk)
        basis, legal_reason, isa_ref = self._basis(ask.purpose, categories, participant)
        body = {
            "enquiry_id": enquiry_id or str(uuid.uuid4()),
            "addressed_agencies": [participant],
            "subject_refs": [s.subject_ref for s in subjects],
            "categories": categories,
            "purpose": ask.purpose,
            "lawful_basis": basis,
            "legal_reason": legal_reason,
            "isa_ref": isa_ref,
            "rag": ask.rag if ask.rag in RATED else "UNKNOWN",
            "deadline": deadline,
            "requested_by": ask.requested_by,
            "ground": ask.ground.ground,
            "family_informed": ask.ground.family_informed,
            "not_informed_reason": ask.ground.not_informed_reason,
        }
        publishes = self._publishes(agency)
        identities = [x for s in subjects for x in s.sections(publishes, for_matching=True)]
        await self._publish(self.topics.enquiries, "ENQUIRY", rid, body, identities, [participant])
        return {
            "enquiry_id": body["enquiry_id"],
            "agency": agency,
            "categories": categories,
            "purpose": ask.purpose,
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

    async def strategy_discussion(self, rid: str, reason: str, by: str) -> str:
        """A strategy discussion convened (Children Act 1989 s47), whatever the rating."""
        return await self._decision(rid, "STRATEGY_DISCUSSION", reason, by)

    async def confidential_address(
        self, rid: str, subject_ref: str, lifted: bool, reason: str, by: str
    ) -> str:
        return await self._decision(
            rid, "CONFIDENTIAL_ADDRESS", reason, by, subject_ref=subject_ref, marker_lifted=lifted
        )

    async def referrer_feedback(self, rid: str, feedback: dict[str, Any], reason: str, by: str) -> str:
        """The referrer told the outcome (or not yet), recorded on its own after the outcome."""
        return await self._decision(rid, "REFERRER_FEEDBACK", reason, by, referrer_feedback=feedback)

    async def add_subject(
        self,
        rid: str,
        subject: SubjectIn,
        reason: str,
        by: str,
        *,
        agencies: Sequence[str],
        rag: str,
        purpose: str,
        ground: CaseGround,
    ) -> tuple[str, list[dict[str, Any]]]:
        """A person joins the case: their sealed identity, identifiers and address in a SUBJECT_ADDED
        decision, then enquiries about them alone, due their timescale from the decision's time. A
        confidential-address marker is recorded first, so no release of the new person's address is ever
        decided without it."""
        if subject.confidential_address:
            await self.confidential_address(rid, subject.subject_ref, False, reason, by)
        # The enquiries' clock starts when the MASH records the person (the view's ``added_at``).
        at = now_micros()
        msg = await self._decision(
            rid,
            "SUBJECT_ADDED",
            reason,
            by,
            extra=subject.sections(),
            subject_ref=subject.subject_ref,
            subject_role=subject.role,
            subject_unborn=subject.unborn,
            decided_at=at,
        )
        sent = []
        for agency in agencies:
            ask = Ask(rag, purpose, at, None, ground, by)
            sent.append(await self._enquire(rid, agency, [subject], ask))
        return msg, sent

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

    async def _decision(
        self,
        rid: str,
        kind: str,
        reason: str,
        by: str,
        extra: Sequence[SectionInput] = (),
        **fields: Any,
    ) -> str:
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
            "subject_ref": None,
            "subject_role": None,
            "subject_unborn": False,
            "marker_lifted": False,
            **fields,
        }
        sections = [*extra, *notes(("DECISION_REASON", reason, by))]
        return await self._publish(self.topics.decisions, "DECISION", rid, body, sections, [self.broker])

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
        subject_ref: str | None = None,
        party: str = "UNKNOWN",
        gillick_competent: bool | None = None,
        categories: Sequence[str] = (),
        services: Sequence[str] = (),
        ground: str | None = None,
        not_informed_note: str | None = None,
    ) -> str:
        """One person's consent record (``subject_ref`` None: the whole family). ``not_informed_reason``
        is a code and travels in the clear; the free-text reasons and the decision maker are sealed."""
        body = {
            "consent_id": str(uuid.uuid4()),
            "kind": kind,
            "scope": scope,
            "family_informed": family_informed,
            "not_informed_reason": not_informed_reason,
            "decided_by": None,
            "reason": None,
            "recorded_at": now_micros(),
            "subject_ref": subject_ref,
            "party": party,
            "gillick_competent": gillick_competent,
            "categories": list(categories),
            "services": list(services),
            "ground": ground,
        }
        sealed = notes(
            ("CONSENT_REASON", reason, decided_by), ("NOT_INFORMED_REASON", not_informed_note, decided_by)
        )
        return await self._publish(self.topics.consent, "CONSENT", rid, body, sealed, [self.broker])
