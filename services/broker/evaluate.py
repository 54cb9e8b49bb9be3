"""Deciding one held message for every subscriber, and releasing it to those that may learn of it.

Each section is decided under each of the case's live purposes (``Decider.live``), about its own person:
their consent, their confidential-address marker (or one on this message's addresses), the sender's
screening scope, the payload's schema version (from its fingerprint; the broker never decrypts a payload).
Only cells whose (outcome, rule) changed are audited, and a RELEASE is never taken back. A subscriber gets a
release only when it may learn of the referral: assigned, or the screening desk once late information is a
live purpose.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jigsaw.bus.records import HEADER_KIND, HEADER_MSG_ID
from jigsaw.bus.store import Tx
from jigsaw.errors import KeyRejected, UnknownSchema
from jigsaw.ids import derived_id
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, ReleaseDetails, Verified, Withhold
from services.broker import consent, state
from services.broker.auditing import AuditLog, Cell
from services.broker.decide import Context, Decider, Decision
from services.broker.metrics import BrokerMetrics
from services.broker.policy import LATE_INFORMATION, SystemRule

log = logging.getLogger(__name__)

# Payload versions that could carry what their category must not: a DomesticAbuse v1 case embeds the
# victim's safe contact details, an Identity v1 every identifier scheme and every address.
RETIRED_PAYLOADS = frozenset({("jigsaw.payload.DomesticAbuse", 1), ("jigsaw.payload.Identity", 1)})


@dataclass(frozen=True)
class _Message:
    """What deciding one message needs, read once for all subscribers."""

    v: Verified
    ref: state.ReferralState
    book: consent.ConsentBook
    marked: frozenset[str]
    retired: frozenset[int]
    late: bool
    confidence: dict[str, float]
    unstated: float
    approvals: dict[tuple[str, str, str], bool]
    # The case's live purposes for this message (``live_purposes``), read once for every cell.
    purposes: tuple[str, ...]


class Evaluator:
    def __init__(
        self, envelopes: Envelopes, decider: Decider, topics: Topics, metrics: BrokerMetrics, audit: AuditLog
    ) -> None:
        self.envelopes = envelopes
        self.decider = decider
        self.topics = topics
        self.metrics = metrics
        self.audit = audit

    def reaches(self, ref: state.ReferralState, subscriber: str) -> bool:
        """Need to know: whether ``subscriber`` may learn that the referral exists."""
        desk = subscriber == self.decider.policy.screening_desk
        # Nothing reaches anyone before the referral itself: until then its confidential-address markers
        # are unknown, and a release could never be taken back once they arrive.
        return ref.opened and (subscriber in ref.assigned or (desk and LATE_INFORMATION in ref.purposes))

    def retired(self, section: dict[str, Any]) -> bool:
        try:
            schema = self.envelopes.registry.by_fingerprint(section["payload_schema"])
        except UnknownSchema:
            return False
        return (schema.fullname, schema.version) in RETIRED_PAYLOADS

    def _message(self, tx: Tx, v: Verified) -> _Message:
        ref = state.load(tx, v.envelope["referral_id"])
        late = state.is_late(tx, v.msg_id)
        return _Message(
            v=v,
            ref=ref,
            book=consent.book(tx, ref.referral_id),
            marked=ref.marked | state.address_marks(tx, v.msg_id),
            retired=frozenset(i for i, s in enumerate(v.sections) if self.retired(s)),
            late=late,
            confidence=state.confidence(tx, v.msg_id),
            # A return that does not say how it matched a subject is treated as uncertain; the hub's own
            # sections (a referral, its case notes) are about the subjects it named.
            unstated=0.0 if v.envelope["kind"] == "INTEL" else 1.0,
            approvals=state.approvals(tx, v.msg_id),
            purposes=live_purposes(ref, v.envelope["kind"], late),
        )

    def evaluate(self, tx: Tx, v: Verified, partition: int, trigger: str) -> None:
        m = self._message(tx, v)
        today = datetime.now(UTC).date()
        for subscriber in self.decider.policy.subscribers:
            started = time.perf_counter()
            previous = state.previous(tx, v.msg_id, subscriber)
            cells: dict[tuple[str, str], Cell] = {}
            changed: list[tuple[str, str]] = []
            for i, s in enumerate(v.sections):
                key = (s["category"], s["subject_ref"])
                cell = self._cell(m, subscriber, i, s, today)
                before = previous.get(key)
                d = cell.decision
                if before is not None and before[0] == "RELEASE":
                    if (d.outcome, d.rule_id) != before:
                        d = Decision(
                            "RELEASE", before[1], "released before; never taken back", purpose=d.purpose
                        )
                        cell = Cell(cell.category, cell.subject_ref, d, cell.ctx, cell.consent_note)
                elif before != (d.outcome, d.rule_id):
                    changed.append(key)
                cells[key] = cell
            # A subscriber that may newly learn of the referral gets its first release even when no
            # decision changed.
            first = self.reaches(m.ref, subscriber) and not state.was_sent(tx, v.msg_id, subscriber)
            if changed or first:
                self._emit(tx, m, partition, subscriber, cells, changed, trigger)
            self.metrics.decided_in(time.perf_counter() - started)

    def _cell(self, m: _Message, subscriber: str, i: int, s: dict[str, Any], today: Any) -> Cell:
        ref, subject = m.ref, s["subject_ref"]
        person = m.book.for_subject(subject)
        ctx = Context(
            subscriber,
            s["category"],
            None,
            ref.stage,
            person.state,
            ref.opened and subscriber in ref.assigned,
            source=m.v.envelope["sender"],
            referrer_type=ref.referrer_type,
            marked=bool(subject) and subject in m.marked,
            consent_by=person.by,
            sharing=person.sharing,
            retired=i in m.retired,
        )
        purposes = m.purposes
        if not ref.opened:
            decided = Decision(
                "WITHHOLD", SystemRule.NOT_ASSIGNED.value, "the referral itself has not arrived yet"
            )
        elif not purposes and ref.decided:
            decided = Decision(
                "WITHHOLD",
                SystemRule.PURPOSE.value,
                "held from before the decision, which opens no new purpose for it",
            )
        else:
            decided = self.decider.live(ctx, purposes, today)
        d = self._match_check(
            decided,
            m.confidence.get(subject, m.unstated),
            m.approvals.get((subscriber, s["category"], subject)),
        )
        note = person.note
        if ref.family_informed is not None:
            note += f"; family informed: {'yes' if ref.family_informed else 'no'}"
        return Cell(s["category"], subject, d, ctx, note)

    def _unknowable(self, subscriber: str, fact: str | None, purposes: tuple[str, ...]) -> bool:
        policy = self.decider.policy
        return fact is not None and not any(policy.may_know(subscriber, fact, p) for p in purposes)

    def _hidden(self, m: _Message, subscriber: str) -> bool:
        """Whether ``subscriber`` must not be told the message exists. A release cannot leave a section
        out (the sender's signature covers each section's category), and a withheld notice still names
        its category and its sender. So a message whose sender's involvement is itself a fact the
        subscriber may not know (known to probation at all), or whose every section is an answer revealing
        such a fact (connectors send each scoped contact in a message of its own), is not released to it."""
        policy, purposes = self.decider.policy, m.purposes
        if m.v.envelope["kind"] == "CONSENT" and subscriber != policy.screening_desk:
            return True  # a family's word on consent is the front door's record, not a desk's
        party = policy.participants.get(m.v.envelope["sender"])
        if self._unknowable(subscriber, party.reveals if party is not None else None, purposes):
            return True
        facts = [
            c.reveals if (c := policy.categories.get(s["category"])) is not None else None
            for s in m.v.sections
        ]
        return bool(facts) and all(self._unknowable(subscriber, f, purposes) for f in facts)

    def _asks_a_fact(self, v: Verified, subscriber: str, ref: state.ReferralState) -> bool:
        """An enquiry addressed only to agencies whose involvement the subscriber may not know: it would
        wait for answers that never reach it."""
        policy = self.decider.policy
        facts = [
            party.reveals if (party := policy.participants.get(a)) is not None else None
            for a in v.body["addressed_agencies"]
        ]
        return bool(facts) and all(self._unknowable(subscriber, f, tuple(ref.purposes)) for f in facts)

    def _match_check(self, d: Decision, confidence: float, approved: bool | None) -> Decision:
        threshold = self.decider.policy.review_threshold
        if d.outcome != "RELEASE" or confidence >= threshold or approved:
            return d
        if approved is False:
            return Decision(
                "WITHHOLD",
                SystemRule.REVIEW_DECLINED.value,
                "a reviewer declined the uncertain match",
                purpose=d.purpose,
            )
        return Decision(
            "REVIEW",
            SystemRule.MATCH_REVIEW.value,
            f"subject match confidence {confidence:.2f} is below {threshold:.2f}",
            purpose=d.purpose,
        )

    def _emit(
        self,
        tx: Tx,
        m: _Message,
        partition: int,
        subscriber: str,
        cells: dict[tuple[str, str], Cell],
        changed: list[tuple[str, str]],
        trigger: str,
    ) -> None:
        policy, v = self.decider.policy, m.v
        decision_id = derived_id("decision", v.msg_id, subscriber, policy.version, trigger)
        for key in changed:
            c = cells[key]
            d = c.decision
            state.record_decision(tx, v.msg_id, subscriber, key[0], key[1], d.outcome, d.rule_id)
            self.audit.decision(tx, policy, (partition, decision_id), v, c, m.ref, m.late)
            self.metrics.decided(subscriber, d.outcome, d.rule_id)
        if not self.reaches(m.ref, subscriber):
            return  # need to know: a subscriber that may not learn of the referral is told nothing
        if self._hidden(m, subscriber):
            return  # a withheld notice would still name the fact; the refusals are audited above
        withheld = {
            k: Withhold(f"{c.decision.outcome}: {c.decision.reason}", c.decision.rule_id)
            for k, c in cells.items()
            if c.decision.outcome != "RELEASE"
        }
        decisions = [cells[(s["category"], s["subject_ref"])].decision for s in v.sections]
        self.release(tx, v, partition, subscriber, m.ref, withheld, decision_id, decisions, m.late)

    def forward(self, tx: Tx, v: Verified, partition: int, trigger: str) -> None:
        """An enquiry's body goes to each subscriber that may learn of the referral, once; its sections are
        the agencies' (sealed to them, not to the broker), so every one is withheld by the stamp. Nothing
        here is a decision on intelligence: its disclosure is audited once, when it arrives."""
        ref = state.load(tx, v.envelope["referral_id"])
        notice = Withhold(
            "NOT_FOR_SUBSCRIBERS: sealed to the agencies asked", SystemRule.ADDRESSED_ELSEWHERE.value
        )
        withheld = {(s["category"], s["subject_ref"]): notice for s in v.sections}
        decisions = [Decision("WITHHOLD", notice.rule_id, notice.reason) for _ in v.sections]
        for subscriber in sorted(self.decider.policy.subscribers):
            if self._asks_a_fact(v, subscriber, ref):
                continue
            if self.reaches(ref, subscriber) and not state.was_sent(tx, v.msg_id, subscriber):
                decision_id = derived_id("forward", v.msg_id, subscriber, trigger)
                self.release(tx, v, partition, subscriber, ref, withheld, decision_id, decisions, False)

    def release(
        self,
        tx: Tx,
        v: Verified,
        partition: int,
        subscriber: str,
        ref: state.ReferralState,
        withheld: dict[tuple[str, str], Withhold],
        decision_id: str,
        decisions: list[Decision],
        late: bool,
    ) -> None:
        try:
            self.envelopes.directory.current(subscriber)
        except KeyRejected as exc:
            # Its key is not published yet, or revoked: defer its release rather than fail every subscriber.
            log.warning("no usable key for %s (%s); its release waits", subscriber, exc.reason.value)
            return
        policy = self.decider.policy
        details = ReleaseDetails(
            purpose=ref.purpose,
            stage=ref.stage,
            decisions=[
                {
                    "category": s["category"],
                    "outcome": d.outcome,
                    "rule_id": d.rule_id,
                    "reason": d.reason,
                    "lawful_basis": d.lawful_basis,
                    "purpose": d.purpose,
                }
                for s, d in zip(v.sections, decisions, strict=True)
            ],
            late=late,
            agreement_ref=policy.agreement.reference,
            ground=ref.ground,
            family_informed=ref.family_informed,
        )
        release = self.envelopes.rekey(
            v, subscriber, withheld, decision_id=decision_id, policy_version=policy.version, details=details
        )
        state.mark_sent(tx, v.msg_id, subscriber)
        if late:
            self.metrics.released_late(subscriber)
        tx.enqueue(
            self.topics.release(subscriber),
            release,
            key=ref.referral_id.encode(),
            partition=partition,
            headers=[(HEADER_MSG_ID, decision_id.encode()), (HEADER_KIND, b"RELEASE")],
        )


def live_purposes(ref: state.ReferralState, kind: str, late: bool) -> tuple[str, ...]:
    """The case's live purposes for one message. Late information is a return that arrived after the
    decision: a return held from before it was decided on under the purposes of its time, and a decision
    creates no new need to know it. The MASH's own records (its decisions and their reasons) stay readable
    to the decision makers."""
    purposes = tuple(ref.purposes)
    if kind == "INTEL" and not late:
        return tuple(p for p in purposes if p != LATE_INFORMATION)
    return purposes
