"""The broker's stateful handler: one local transaction per input record.

For every message it must decide on (a referral, an intelligence return) it holds the sealed envelope,
decides per subscriber and per section, enqueues a re-keyed release for each subscriber that may learn of
the referral and one audit record per decision. A consent, assignment or decision record updates the
referral's state and re-evaluates what it holds: what becomes releasable is released, and nothing released
is taken back. It verifies signatures and unwraps data keys to re-wrap them; it never decrypts a payload.
"""

from __future__ import annotations

import logging
from typing import Any

from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.bus.store import Tx
from jigsaw.errors import PayloadInvalid, RejectedInput, UnauthorizedSender
from jigsaw.ids import TopicName
from jigsaw.topics import Topics
from jigsaw.wire.categories import CATEGORIES, REPORT_CATEGORIES
from jigsaw.wire.envelope import Envelopes, Verified
from services.broker import consent, state
from services.broker.auditing import AuditLog
from services.broker.decide import Decider
from services.broker.evaluate import Evaluator
from services.broker.metrics import BrokerMetrics
from services.broker.stages import OUTCOMES

log = logging.getLogger(__name__)

_RAGS = ("RED", "AMBER", "GREEN")


class BrokerProcessor:
    def __init__(
        self,
        envelopes: Envelopes,
        decider: Decider,
        topics: Topics,
        metrics: BrokerMetrics,
        checkpoints: tuple[int, float] = (1000, 1.0),
    ) -> None:
        self.envelopes = envelopes
        self.decider = decider
        self.topics = topics
        self.metrics = metrics
        self._intel_agency = {topics.intel(a): a for a in self._agencies()}
        every, every_s = checkpoints
        self.audit = AuditLog(
            envelopes.registry,
            lambda: envelopes.keys.current,
            topics,
            every,
            every_s,
            on_signed=metrics.checkpointed,
        )
        self.evaluator = Evaluator(envelopes, decider, topics, metrics, self.audit)

    def _agencies(self) -> set[str]:
        return set(self.decider.policy.roster.agencies)

    @property
    def inputs(self) -> list[str]:
        t = self.topics
        return [t.referrals, t.consent, t.assignments, t.decisions, t.enquiries, *sorted(self._intel_agency)]

    # -- the handler --------------------------------------------------------------------------------
    def __call__(self, record: Record, tx: Tx) -> Outcome:
        self.audit.begin()
        outcome = self._handle(record, tx)
        self.audit.commit(tx)
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
        policy = self.decider.policy
        if kind == "ENQUIRY":
            # Held and forwarded like any message, so a desk learns of an enquiry only once assigned.
            self.audit.enquiry(tx, policy, record.partition, verified)
            state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            self.evaluator.forward(tx, verified, record.partition, trigger="")
            return COMMIT
        if kind == "INTEL":
            if not self._apply_intel(tx, referral_id, verified, record):
                self.evaluator.evaluate(tx, verified, record.partition, trigger="")
                return COMMIT
        elif kind == "REFERRAL":
            state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            self._apply_referral(tx, referral_id, verified.body)
        else:
            self._apply(tx, kind, referral_id, verified)
            if kind == "CONSENT":
                self.audit.consent(tx, policy, record.partition, verified, state.load(tx, referral_id))
                # Released to the screening desk alone, whose view lists the case's consent records.
                state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
            elif kind == "DECISION":
                # A hub learns of RAG changes and outcomes only through its releases, once assigned.
                state.hold(tx, verified.msg_id, referral_id, record.topic, record.value)
        self._reevaluate(tx, verified, record)
        return COMMIT

    def _reevaluate(self, tx: Tx, verified: Verified, record: Record) -> None:
        """A change of state re-evaluates what is held: returns may arrive before their referral, and
        consent, assignments, decisions and markers change what may be released."""
        kind, referral_id = verified.envelope["kind"], verified.envelope["referral_id"]
        target = verified.body.get("review_target") if kind == "DECISION" else None
        held_now = state.held(tx, referral_id, target["msg_id"] if target else None)
        if target:
            held_now.append((verified.msg_id, record.value or b""))
        for msg_id, value in held_now:
            held = verified if msg_id == verified.msg_id else self._reverify(value, referral_id)
            if held is None:
                continue
            trigger = "" if held is verified else verified.msg_id
            if held.envelope["kind"] == "ENQUIRY":
                self.evaluator.forward(tx, held, record.partition, trigger)
            else:
                self.evaluator.evaluate(tx, held, record.partition, trigger)

    def _reverify(self, value: bytes, referral_id: str) -> Verified | None:
        try:
            return self.envelopes.verify(value, referral_id.encode())
        except RejectedInput as exc:  # e.g. its sender's key was revoked as compromised since
            log.warning("not re-evaluating a held message: %s", exc.reason.value)
            return None

    def _authorize(self, record: Record, v: Verified) -> None:
        """Who may send what, where, about which categories: the agreement's ``senders`` and each
        participant's ``publishes``. A kind travels on its own topic, an agency's returns on its own
        intelligence topic, and a return names the agency that sent it. Only the front door records
        consent."""
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
        for s in v.sections:
            # The broker never opens a payload, so a section sealed with another category's schema (or one
            # no reader knows) would pass as released and fail only at the hub, taking its message's other
            # sections with it: refuse the message here instead, by the clear fingerprint.
            schema = self.envelopes.registry.by_fingerprint(s["payload_schema"])
            if schema.fullname != CATEGORIES[s["category"]].schema:
                raise PayloadInvalid(f"a {s['category']} section sealed as {schema.fullname}")

    @staticmethod
    def _desk_may_send(subscriber: str, kind: str, body: dict[str, Any]) -> None:
        """A desk's hub speaks for its own desk only: it approves or declines a review of a section held
        for that desk, and changes nothing else about the case."""
        target = body.get("review_target") if kind == "DECISION" else None
        if body.get("kind") != "REVIEW_APPROVAL" or not target or target["subscriber"] != subscriber:
            raise UnauthorizedSender(f"the {subscriber} desk's hub may only review its own sections")

    # -- applying state -----------------------------------------------------------------------------
    def _apply_intel(self, tx: Tx, referral_id: str, v: Verified, record: Record) -> bool:
        """Hold a return with its matches, whether it is late and its confidential-address markers.
        True if it marked a person anew, which changes what else held about them may be released."""
        if state.load(tx, referral_id).decided:
            state.mark_late(tx, v.msg_id)  # after the decision: late information, to revisit it
        state.record_matches(tx, v.msg_id, v.body["matches"])
        widened = False
        for marker in v.body.get("confidential_addresses") or []:
            if marker["scope"] == "ADDRESS":
                state.mark_address(tx, v.msg_id, marker["subject_ref"])
            else:  # PERSON, or a scope this reader does not know: the wider reading
                widened |= state.set_marker(tx, referral_id, marker["subject_ref"], True)
        state.hold(tx, v.msg_id, referral_id, record.topic, record.value or b"")
        return widened

    @staticmethod
    def _apply_referral(tx: Tx, referral_id: str, body: dict[str, Any]) -> None:
        rag = body["rag"]
        if rag in _RAGS and state.load(tx, referral_id).rag is None:
            state.set_rag(tx, referral_id, rag)
        state.set_referrer(tx, referral_id, body.get("referrer_type") or "UNKNOWN")
        for s in body["subject_refs"]:
            ref = s["subject_ref"]
            state.add_subject(
                tx, referral_id, ref, s["role"], bool(s.get("unborn")), s.get("mother_subject_ref")
            )
            if s.get("confidential_address"):
                state.set_marker(tx, referral_id, ref, True)

    def _apply(self, tx: Tx, kind: str, referral_id: str, v: Verified) -> None:
        """Update the referral's state from a consent, assignment or decision record."""
        body = v.body
        if kind == "CONSENT":
            # Who decided and why are sealed case notes, which the broker cannot read; it can insist that
            # they are there (a clear body's own fields, from an older hub, count too).
            notes = any(s["category"] == "case_notes" for s in v.sections)
            if body["kind"] == "SAFEGUARDING_OVERRIDE" and not (
                notes or (body["decided_by"] and body["reason"])
            ):
                raise PayloadInvalid("a safeguarding override must name who decided and why")
            consent.record(tx, referral_id, v.msg_id, body)
        elif kind == "ASSIGNMENT":
            if body["action"] not in ("ASSIGN", "UNASSIGN"):
                raise PayloadInvalid(f"unknown assignment action {body['action']}")
            state.assign(tx, referral_id, list(body["subscribers"]), body["action"] == "ASSIGN")
        else:
            self._apply_decision(tx, referral_id, v.msg_id, body)

    @staticmethod
    def _apply_decision(tx: Tx, referral_id: str, msg_id: str, body: dict[str, Any]) -> None:
        what = body["kind"]
        if what == "RAG_CHANGE" and body["rag_to"] in _RAGS:
            state.set_rag(tx, referral_id, body["rag_to"])
        elif what == "OUTCOME" and body["outcome"] in OUTCOMES:
            state.set_outcome(tx, referral_id, body["outcome"])
        elif what == "REVIEW_APPROVAL" and body["review_target"]:
            t = body["review_target"]
            state.set_approval(
                tx, t["msg_id"], t["subscriber"], t["category"], t["subject_ref"], t["approved"]
            )
        elif what == "STRATEGY_DISCUSSION":
            # Reasonable cause to suspect significant harm: convened at once, whatever the RAG (s47).
            state.set_strategy_discussion(tx, referral_id, msg_id)
        elif what == "CONFIDENTIAL_ADDRESS" and body.get("subject_ref"):
            state.set_marker(tx, referral_id, body["subject_ref"], not body.get("marker_lifted"))
        elif what == "SUBJECT_ADDED" and body.get("subject_ref"):
            state.add_subject(
                tx,
                referral_id,
                body["subject_ref"],
                body.get("subject_role"),
                bool(body.get("subject_unborn")),
            )
        elif what == "REFERRER_FEEDBACK":
            pass  # the referrer was told the outcome: held and released like any decision, nothing to apply
        else:
            raise PayloadInvalid(f"a {what} decision the broker cannot apply")
