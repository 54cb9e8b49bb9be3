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
from jigsaw.errors import KeyError_, PayloadInvalid, RejectedInput, UnauthorizedSender
from jigsaw.ids import TopicName, derived_id
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, Verified, Withhold
from jigsaw.wire.framing import now_micros
from services.broker import state
from services.broker.audit import chain_hash, seal_audit_record
from services.broker.decide import Context, Decider, Decision
from services.broker.metrics import BrokerMetrics

log = logging.getLogger(__name__)

_CONSENT = {
    "CONSENT_GIVEN": "GIVEN",
    "CONSENT_REFUSED": "REFUSED",
    "CONSENT_WITHDRAWN": "WITHDRAWN",
    "NOT_SOUGHT_RISK_OF_HARM": "NOT_SOUGHT",
    "SAFEGUARDING_OVERRIDE": "OVERRIDE",
}
_HUB_KINDS = {"REFERRAL", "ASSIGNMENT", "DECISION"}


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
        return [t.referrals, t.consent, t.assignments, t.decisions, *sorted(self._intel_agency)]

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
        verified = self.envelopes.verify(record.value, record.key)
        if not tx.first_seen(verified.msg_id, record.value):
            self.metrics.duplicate()
            return COMMIT
        kind = verified.envelope["kind"]
        self._authorize(record.topic, kind, verified.envelope["sender"])
        referral_id = verified.envelope["referral_id"]
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
            self._apply(tx, kind, referral_id, verified.body)
        # A change of state re-evaluates what is held: returns may arrive before their referral, and
        # consent, assignments and decisions change what may be released.
        target = verified.body.get("review_target") if kind == "DECISION" else None
        for msg_id, value in state.held(tx, referral_id, target["msg_id"] if target else None):
            held = verified if msg_id == verified.msg_id else self._reverify(value, referral_id)
            if held is not None:
                self._evaluate(
                    tx, held, record.partition, trigger="" if held is verified else verified.msg_id
                )
        return COMMIT

    def _reverify(self, value: bytes, referral_id: str) -> Verified | None:
        try:
            return self.envelopes.verify(value, referral_id.encode())
        except RejectedInput as exc:  # e.g. its sender's key was revoked as compromised since
            log.warning("not re-evaluating a held message: %s", exc.reason.value)
            return None

    def _authorize(self, topic: str, kind: str, sender: str) -> None:
        participant = self.decider.policy.participants.get(sender)
        role = participant.role if participant else None
        agency = participant.agency if participant else None
        intel_agency = self._intel_agency.get(TopicName(topic))
        if intel_agency is not None:
            if kind != "INTEL" or role != "AGENCY_CONNECTOR" or agency != intel_agency:
                raise UnauthorizedSender(f"{sender} may not publish {kind} on {topic}")
        elif kind in _HUB_KINDS and role != "HUB":
            raise UnauthorizedSender(f"{sender} is not a hub and may not send {kind}")
        elif kind == "CONSENT" and role not in ("HUB", "AGENCY_CONNECTOR"):
            raise UnauthorizedSender(f"{sender} may not record consent")
        elif kind not in _HUB_KINDS | {"CONSENT"}:
            raise PayloadInvalid(f"the broker does not take {kind} messages on {topic}")

    def _apply(self, tx: Tx, kind: str, referral_id: str, body: dict[str, Any]) -> None:
        """Update the referral's state from a consent, assignment or decision record."""
        if kind == "CONSENT":
            consent = _CONSENT.get(body["kind"])
            if consent is None:
                raise PayloadInvalid(f"unknown consent kind {body['kind']}")
            if consent == "OVERRIDE" and not (body["decided_by"] and body["reason"]):
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
        # referral sections are about the subjects it named.
        unstated = 1.0 if v.envelope["kind"] == "REFERRAL" else 0.0
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
            return Decision("WITHHOLD", "SYS-REVIEW-DECLINED", "a reviewer declined the uncertain match")
        return Decision(
            "REVIEW",
            "SYS-MATCH-REVIEW",
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
            self._audit(tx, partition, key, decision_id, v, subscriber, cell[0], d, ref)
            self.metrics.decided(subscriber, d.outcome, d.rule_id)
        if subscriber not in ref.assigned:
            return  # need to know: an unassigned subscriber does not learn the referral exists
        try:
            self.envelopes.directory.current(subscriber)
        except KeyError_ as exc:
            # Its key is not published yet, or revoked: defer its release rather than fail every subscriber.
            log.warning("no usable key for %s (%s); its release waits", subscriber, exc.reason.value)
            return
        withheld = {
            c: Withhold(f"{d.outcome}: {d.reason}", d.rule_id)
            for c, d in final.items()
            if d.outcome != "RELEASE"
        }
        release = self.envelopes.rekey(
            v, subscriber, withheld, decision_id=decision_id, policy_version=policy.version
        )
        state.mark_sent(tx, v.msg_id, subscriber)
        tx.enqueue(
            self.topics.release(subscriber),
            release,
            key=key,
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
        category: str,
        d: Decision,
        ref: state.ReferralState,
    ) -> None:
        if partition not in self._heads:
            self._heads[partition] = state.chain_head(tx, partition)
        seq, last = self._heads[partition]
        value = seal_audit_record(
            self.envelopes.registry,
            self.envelopes.keys.current,
            {
                "seq": seq + 1,
                "prev_hash": last,
                "decision_id": decision_id,
                "referral_id": ref.referral_id,
                "source_msg_id": v.msg_id,
                "subscriber": subscriber,
                "category": category,
                "outcome": d.outcome,
                "rule_id": d.rule_id,
                "reason": d.reason,
                "lawful_basis": d.lawful_basis,
                "policy_version": self.decider.policy.version,
                "purpose": ref.purpose,
                "stage": ref.stage,
                "consent_state": ref.consent_note,
                "decided_at": now_micros(),
            },
        )
        self._heads[partition] = (seq + 1, chain_hash(value))
        tx.enqueue(self.topics.audit, value, key=key, partition=partition, headers=[(HEADER_KIND, b"AUDIT")])
