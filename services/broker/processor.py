"""The broker's stateful handler: one local transaction per input record.

For every message it must decide on (a referral, an intelligence return) it holds the sealed envelope,
decides per subscriber and per section, enqueues a re-keyed release for each assigned subscriber and one
audit record per decision. A consent, assignment or decision record updates the referral's state and
re-evaluates what it holds: what becomes releasable is released, and nothing released is taken back.
It verifies signatures and unwraps data keys to re-wrap them; it never decrypts a payload.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from jigsaw.bus.records import COMMIT, HEADER_KIND, HEADER_MSG_ID, Outcome, Record
from jigsaw.bus.store import Tx
from jigsaw.errors import KeyRejected, PayloadInvalid, RejectedInput, UnauthorizedSender
from jigsaw.ids import TopicName, derived_id
from jigsaw.topics import Topics
from jigsaw.wire.categories import REPORT_CATEGORIES
from jigsaw.wire.envelope import Envelopes, Verified, Withhold
from jigsaw.wire.framing import now_micros
from services.broker import state
from services.broker.audit import chain_hash, seal_audit_record
from services.broker.decide import Context, Decider, Decision
from services.broker.metrics import BrokerMetrics
from services.broker.policy import PURPOSES, SystemRule

log = logging.getLogger(__name__)

_CONSENT = {
    "CONSENT_GIVEN": "GIVEN",
    "CONSENT_REFUSED": "REFUSED",
    "CONSENT_WITHDRAWN": "WITHDRAWN",
    "NOT_SOUGHT_RISK_OF_HARM": "NOT_SOUGHT",
    "SAFEGUARDING_OVERRIDE": "OVERRIDE",
}


class BrokerProcessor:
    def __init__(
        self, envelopes: Envelopes, decider: Decider, topics: Topics, metrics: BrokerMetrics
    ) -> None:
        self.envelopes = envelopes
        self.decider = decider
        self.topics = topics
        self.metrics = metrics
        self._intel_agency = {topics.intel(a): a for a in self._agencies()}
        self._heads: dict[int, tuple[int, bytes]] = {}

    def _agencies(self) -> set[str]:
        return set(self.decider.policy.roster.agencies)

    @property
    def inputs(self) -> list[str]:
        t = self.topics
        return [t.referrals, t.consent, t.assignments, t.decisions, t.enquiries, *sorted(self._intel_agency)]

    # -- the handler --------------------------------------------------------------------------------
    def __call__(self, record: Record, tx: Tx) -> Outcome:
        # The audit chain heads this record moves: read once, written once, rather than per decision.
        self._heads = {}
        outcome = self._handle(record, tx)
        for partition, (seq, last) in self._heads.items():
            state.set_chain_head(tx, partition, seq, last)
        return outcome

    def _handle(self, record: Record, tx: Tx) -> Outcome:
        assert record.value is not None  # noqa: S101 - the loop never hands over tombstones
        # Verify (signature and every section's digest) before the duplicate check, so that a corrupted
        # copy of a message already seen is refused as corrupt, not mistaken for a replay of it.
        verified = self.envelopes.verify(record.value, record.key)
        kind, sender = verified.envelope["kind"], verified.envelope["sender"]
        # Authority before any state, the duplicate check included: a sender that may not send this
        # cannot claim its id either.
        self._authorize(record, verified)
        if not tx.first_seen(verified.msg_id, record.value, sender):
            self.metrics.duplicate()
            return COMMIT
        if kind == "REPORT":
            # Addressed to the MASH front door, which opens the referral it asks for: nothing to hold here.
            return COMMIT
        referral_id = verified.envelope["referral_id"]
        if kind == "ENQUIRY":
            # Held and forwarded like any message, so a desk learns of an enquiry only once assigned.
            self._audit_enquiry(tx, verified, record.partition)
            state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            self._forward(tx, verified, record.partition, trigger="")
            return COMMIT
        if kind == "INTEL":
            state.record_matches(tx, verified.msg_id, verified.body["matches"])
            state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            self._evaluate(tx, verified, record.partition, trigger="")
            return COMMIT
        if kind == "REFERRAL":
            state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            rag = verified.body["rag"]
            if rag in ("RED", "AMBER", "GREEN") and state.load(tx, referral_id).rag is None:
                state.set_rag(tx, referral_id, rag)
        else:
            self._apply(tx, kind, referral_id, verified.body, _has_notes(verified))
            if kind == "CONSENT":
                self._audit_consent(tx, verified, record.partition)
            elif kind == "DECISION":
                # A hub learns of RAG changes and outcomes only through its releases, once assigned.
                state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
        # A change of state re-evaluates what is held: returns may arrive before their referral, and
        # consent, assignments and decisions change what may be released.
        target = verified.body.get("review_target") if kind == "DECISION" else None
        held_now = state.held(tx, referral_id, target["msg_id"] if target else None)
        if target and kind == "DECISION":
            held_now.append((verified.msg_id, record.value))
        for msg_id, value in held_now:
            held = verified if msg_id == verified.msg_id else self._reverify(value, referral_id)
            if held is None:
                continue
            trigger = "" if held is verified else verified.msg_id
            if held.envelope["kind"] == "ENQUIRY":
                self._forward(tx, held, record.partition, trigger)
            else:
                self._evaluate(tx, held, record.partition, trigger)
        return COMMIT

    def _forward(self, tx: Tx, v: Verified, partition: int, trigger: str) -> None:
        """An enquiry's body goes to each assigned subscriber once; its sections are the agencies' (sealed
        to them, not to the broker), so every one is withheld by the stamp. Nothing here is a decision on
        intelligence: its disclosure is audited once, when it arrives."""
        ref = state.load(tx, v.envelope["referral_id"])
        withheld = {
            (s["category"], s["subject_ref"]): Withhold(
                "NOT_FOR_SUBSCRIBERS: sealed to the agencies asked", SystemRule.ADDRESSED_ELSEWHERE.value
            )
            for s in v.sections
        }
        for subscriber in sorted(ref.assigned):
            if not state.was_sent(tx, v.msg_id, subscriber):
                decision_id = derived_id("forward", v.msg_id, subscriber, trigger)
                self._release(tx, v, partition, subscriber, ref, withheld, decision_id)

    def _reverify(self, value: bytes, referral_id: str) -> Verified | None:
        try:
            return self.envelopes.verify(value, referral_id.encode())
        except RejectedInput as exc:  # e.g. its sender's key was revoked as compromised since
            log.warning("not re-evaluating a held message: %s", exc.reason.value)
            return None

    def _authorize(self, record: Record, v: Verified) -> None:
        """Who may send what, where, about which categories: the agreement's ``senders`` and each
        participant's ``publishes``. A kind travels on its own topic, an agency's returns on its own
        intelligence topic, and a return names the agency that sent it."""
        kind, sender = v.envelope["kind"], v.envelope["sender"]
        policy = self.decider.policy
        if not policy.may_send(sender, kind):
            raise UnauthorizedSender(f"{sender} may not send {kind}")
        participant = policy.participants[sender]
        intel_agency = self._intel_agency.get(TopicName(record.topic))
        if kind in ("INTEL", "REPORT"):
            if intel_agency is None or participant.agency != intel_agency:
                raise UnauthorizedSender(f"{sender} may not publish on {record.topic}")
            if v.body["agency"] != participant.agency:
                raise UnauthorizedSender(f"{sender} sent a {kind} in another agency's name")
        elif record.topic != self.topics.for_kind(kind):
            raise UnauthorizedSender(f"a {kind} message does not belong on {record.topic}")
        if participant.subscriber is not None:
            self._desk_may_send(participant.subscriber, kind, v.body)
        allowed = REPORT_CATEGORIES if kind == "REPORT" else participant.publishes
        foreign = sorted({s["category"] for s in v.sections} - set(allowed))
        if foreign:
            raise UnauthorizedSender(f"{sender} may not publish {', '.join(foreign)}")

    @staticmethod
    def _desk_may_send(subscriber: str, kind: str, body: dict[str, Any]) -> None:
        """A desk's hub speaks for its own desk only: it approves or declines a review of a section held
        for that desk, and changes nothing else about the case."""
        target = body.get("review_target") if kind == "DECISION" else None
        if body.get("kind") != "REVIEW_APPROVAL" or not target or target["subscriber"] != subscriber:
            raise UnauthorizedSender(f"the {subscriber} desk's hub may only review its own sections")

    def _apply(self, tx: Tx, kind: str, referral_id: str, body: dict[str, Any], notes: bool) -> None:
        """Update the referral's state from a consent, assignment or decision record."""
        if kind == "CONSENT":
            consent = _CONSENT.get(body["kind"])
            if consent is None:
                raise PayloadInvalid(f"unknown consent kind {body['kind']}")
            # Who decided and why are sealed case notes, which the broker cannot read; it can insist that
            # they are there (a clear body's own fields, from an older hub, count too).
            if consent == "OVERRIDE" and not (notes or (body["decided_by"] and body["reason"])):
                raise PayloadInvalid("a safeguarding override must name who decided and why")
            state.set_consent(tx, referral_id, consent, body["family_informed"])
        elif kind == "ASSIGNMENT":
            if body["action"] not in ("ASSIGN", "UNASSIGN"):
                raise PayloadInvalid(f"unknown assignment action {body['action']}")
            state.assign(tx, referral_id, list(body["subscribers"]), body["action"] == "ASSIGN")
        elif body["kind"] == "RAG_CHANGE" and body["rag_to"] in ("RED", "AMBER", "GREEN"):
            state.set_rag(tx, referral_id, body["rag_to"])
        elif body["kind"] == "OUTCOME" and body["outcome"] and body["outcome"] != "UNKNOWN":
            state.set_outcome(tx, referral_id, body["outcome"])
        elif body["kind"] == "REVIEW_APPROVAL" and body["review_target"]:
            t = body["review_target"]
            state.set_approval(
                tx, t["msg_id"], t["subscriber"], t["category"], t["subject_ref"], t["approved"]
            )
        else:
            raise PayloadInvalid(f"a {body['kind']} decision the broker cannot apply")

    # -- deciding -----------------------------------------------------------------------------------
    def _evaluate(self, tx: Tx, v: Verified, partition: int, trigger: str) -> None:
        ref = state.load(tx, v.envelope["referral_id"])
        confidence = state.confidence(tx, v.msg_id)
        # A return that does not say how it matched a subject is treated as uncertain; the hub's own
        # sections (a referral, its case notes) are about the subjects it named.
        unstated = 0.0 if v.envelope["kind"] == "INTEL" else 1.0
        approvals = state.approvals(tx, v.msg_id)
        today = datetime.now(UTC).date()
        for subscriber in self.decider.policy.subscribers:
            started = time.perf_counter()
            previous = state.previous(tx, v.msg_id, subscriber)
            final: dict[tuple[str, str], Decision] = {}
            changed: list[tuple[str, str]] = []
            for s in v.sections:
                cell = (s["category"], s["subject_ref"])
                ctx = Context(
                    subscriber, s["category"], ref.purpose, ref.stage, ref.consent, subscriber in ref.assigned
                )
                d = self._match_check(
                    self.decider(ctx, today),
                    confidence.get(s["subject_ref"], unstated),
                    approvals.get((subscriber, s["category"], s["subject_ref"])),
                )
                before = previous.get(cell)
                if before is not None and before[0] == "RELEASE":
                    d = Decision("RELEASE", before[1], "released before; never taken back")
                elif before != (d.outcome, d.rule_id):
                    changed.append(cell)
                final[cell] = d
            # A newly assigned subscriber gets its first release even when no decision changed.
            first = subscriber in ref.assigned and not state.was_sent(tx, v.msg_id, subscriber)
            if changed or first:
                self._emit(tx, v, partition, subscriber, ref, final, changed, trigger)
            self.metrics.decided_in(time.perf_counter() - started)

    def _match_check(self, d: Decision, confidence: float, approved: bool | None) -> Decision:
        threshold = self.decider.policy.review_threshold
        if d.outcome != "RELEASE" or confidence >= threshold or approved:
            return d
        if approved is False:
            return Decision(
                "WITHHOLD", SystemRule.REVIEW_DECLINED.value, "a reviewer declined the uncertain match"
            )
        return Decision(
            "REVIEW",
            SystemRule.MATCH_REVIEW.value,
            f"subject match confidence {confidence:.2f} is below {threshold:.2f}",
        )

    def _emit(
        self,
        tx: Tx,
        v: Verified,
        partition: int,
        subscriber: str,
        ref: state.ReferralState,
        final: dict[tuple[str, str], Decision],
        changed: list[tuple[str, str]],
        trigger: str,
    ) -> None:
        policy = self.decider.policy
        decision_id = derived_id("decision", v.msg_id, subscriber, policy.version, trigger)
        key = ref.referral_id.encode()
        for cell in changed:
            d = final[cell]
            state.record_decision(tx, v.msg_id, subscriber, cell[0], cell[1], d.outcome, d.rule_id)
            self._audit(tx, partition, key, decision_id, v, subscriber, cell, d, ref)
            self.metrics.decided(subscriber, d.outcome, d.rule_id)
        if subscriber not in ref.assigned:
            return  # need to know: an unassigned subscriber does not learn the referral exists
        withheld = {
            c: Withhold(f"{d.outcome}: {d.reason}", d.rule_id)
            for c, d in final.items()
            if d.outcome != "RELEASE"
        }
        self._release(tx, v, partition, subscriber, ref, withheld, decision_id)

    def _release(
        self,
        tx: Tx,
        v: Verified,
        partition: int,
        subscriber: str,
        ref: state.ReferralState,
        withheld: dict[tuple[str, str], Withhold],
        decision_id: str,
    ) -> None:
        try:
            self.envelopes.directory.current(subscriber)
        except KeyRejected as exc:
            # Its key is not published yet, or revoked: defer its release rather than fail every subscriber.
            log.warning("no usable key for %s (%s); its release waits", subscriber, exc.reason.value)
            return
        policy = self.decider.policy
        release = self.envelopes.rekey(
            v, subscriber, withheld, decision_id=decision_id, policy_version=policy.version
        )
        state.mark_sent(tx, v.msg_id, subscriber)
        tx.enqueue(
            self.topics.release(subscriber),
            release,
            key=ref.referral_id.encode(),
            partition=partition,
            headers=[(HEADER_MSG_ID, decision_id.encode()), (HEADER_KIND, b"RELEASE")],
        )

    def _audit(
        self,
        tx: Tx,
        partition: int,
        key: bytes,
        decision_id: str,
        v: Verified,
        subscriber: str,
        cell: tuple[str, str],
        d: Decision,
        ref: state.ReferralState,
    ) -> None:
        self._append_audit(
            tx,
            partition,
            key,
            {
                "event": "DECISION",
                "decision_id": decision_id,
                "source_msg_id": v.msg_id,
                "actor": v.envelope["sender"],
                "subscriber": subscriber,
                "category": cell[0],
                "subject_ref": cell[1],
                "outcome": d.outcome,
                "rule_id": d.rule_id,
                "reason": d.reason,
                "lawful_basis": d.lawful_basis,
                "purpose": ref.purpose,
                "stage": ref.stage,
                "consent_state": ref.consent_note,
            },
        )

    def _audit_consent(self, tx: Tx, v: Verified, partition: int) -> None:
        """A consent record is audited itself, not only through the cells it changes: a refusal that
        changes no decision (nothing was held yet) must still say who recorded it and when."""
        ref = state.load(tx, v.envelope["referral_id"])
        body = v.body
        self._append_audit(
            tx,
            partition,
            ref.referral_id.encode(),
            {
                "event": "CONSENT",
                "decision_id": derived_id("consent-audit", v.msg_id),
                "source_msg_id": v.msg_id,
                "actor": v.envelope["sender"],
                "subscriber": "",
                "category": "",
                "outcome": "UNKNOWN",
                "rule_id": body["kind"],
                "reason": f"{body['kind']} recorded by {body['decided_by'] or v.envelope['sender']}",
                "lawful_basis": None,
                "purpose": ref.purpose,
                "stage": ref.stage,
                "consent_state": ref.consent_note,
            },
        )

    def _audit_enquiry(self, tx: Tx, v: Verified, partition: int) -> None:
        """An enquiry tells an agency that a child is being looked at: a disclosure, so it is audited,
        one record per agency asked and subject asked about (by pseudonymous reference)."""
        body = v.body
        key = v.envelope["referral_id"].encode()
        for agency in body["addressed_agencies"]:
            for subject_ref in body["subject_refs"]:
                self._append_audit(
                    tx,
                    partition,
                    key,
                    {
                        "event": "ENQUIRY",
                        "decision_id": derived_id("enquiry-audit", v.msg_id, agency, subject_ref),
                        "source_msg_id": v.msg_id,
                        "actor": v.envelope["sender"],
                        "subscriber": agency,
                        "category": "",
                        "subject_ref": subject_ref,
                        "categories": list(body["categories"]),
                        "outcome": "UNKNOWN",
                        "rule_id": body["legal_reason"],
                        "reason": f"asked by {body['requested_by']} for {body['purpose']}",
                        "lawful_basis": body["lawful_basis"],
                        "purpose": _known_purpose(body["purpose"]),
                        "stage": body["rag"],
                        "consent_state": None,
                    },
                )

    def _append_audit(self, tx: Tx, partition: int, key: bytes, fields: dict[str, Any]) -> None:
        if partition not in self._heads:
            self._heads[partition] = state.chain_head(tx, partition)
        seq, last = self._heads[partition]
        value = seal_audit_record(
            self.envelopes.registry,
            self.envelopes.keys.current,
            {
                "subject_ref": None,
                "categories": [],
                **fields,
                "seq": seq + 1,
                "prev_hash": last,
                "referral_id": key.decode(),
                "policy_version": self.decider.policy.version,
                "decided_at": now_micros(),
            },
        )
        self._heads[partition] = (seq + 1, chain_hash(value))
        tx.enqueue(self.topics.audit, value, key=key, partition=partition, headers=[(HEADER_KIND, b"AUDIT")])


def _has_notes(v: Verified) -> bool:
    return any(s["category"] == "case_notes" for s in v.sections)


def _known_purpose(purpose: str | None) -> str | None:
    return purpose if purpose in PURPOSES else None
