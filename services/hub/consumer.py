"""One subscriber's case assembly: its release topic in, the case store updated.

Everything reaches a hub through the broker, decisions and enquiries included, so a hub stores nothing
about a referral until something of it is released to its subscriber (an unassigned desk never learns a
referral exists). It verifies the sender's signature end to end and the broker's stamp, decrypts what was
released, decodes it with its own reader schemas, and drops exact copies by release id. Every update
commits with its offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.bus.store import Conn, Tx
from jigsaw.errors import PayloadInvalid
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, Opened
from jigsaw.wire.framing import micros, now_micros
from jigsaw.workhours import WorkingHours
from services.hub import store, tally
from services.hub.metrics import HubMetrics
from services.hub.persons import PersonIndex


class HubProcessor:
    def __init__(
        self,
        envelopes: Envelopes,
        topics: Topics,
        metrics: HubMetrics,
        on_update: Callable[[str], None] = lambda _: None,
        persons: PersonIndex | None = None,
        clock: WorkingHours | None = None,
    ) -> None:
        """``persons``: the front door's person index, which only the front door's hub keeps. ``clock``:
        the working day the one-working-day decision is measured on (the default's, unless given)."""
        self.envelopes = envelopes
        self.topics = topics
        self.metrics = metrics
        self._on_update = on_update
        self.subscriber = envelopes.me
        self.persons = persons
        self.clock = clock or WorkingHours()
        self.tally = tally.Tally(metrics)
        self._facts: list[tally.Fact] = []
        self._conn: Conn | None = None
        self._settling = False

    @property
    def inputs(self) -> list[str]:
        return [self.topics.release(self.subscriber)]

    def __call__(self, record: Record, tx: Tx) -> Outcome:
        self._facts = []
        try:
            if record.value is None:
                raise PayloadInvalid("an empty record")
            referral_id = self._release(record, tx)
        except BaseException:
            self.tally.hold(record, [])  # its writes are undone, so it taught this store nothing
            raise
        self.tally.hold(record, self._facts)
        self._conn = tx.conn
        loop = asyncio.get_running_loop()
        if self.tally.held and not self._settling:
            self._settling = True
            loop.call_soon(self.settle)
        if referral_id is not None:
            # After this transaction commits: the handler is synchronous, so call_soon runs after it.
            loop.call_soon(self._on_update, referral_id)
        return COMMIT

    def settle(self) -> int:
        """Count the measures of the records committed since the last call (services.hub.tally); run
        from the loop after the handler's transaction has ended, committed or not."""
        self._settling = False
        return self.tally.settle(self._conn) if self._conn is not None else 0

    def _release(self, record: Record, tx: Tx) -> str | None:
        opened = self.envelopes.open(record.value or b"", record.key, require_release=True)
        if opened.release is None:  # open() refuses this already; kept for the type checker
            raise PayloadInvalid("not a release")
        if not tx.first_seen(opened.release.decision_id, record.value or b""):
            return None
        rid = opened.referral_id
        # The agency of the key that signed, which the directory keeps after a rotation or a cessation:
        # the sender's current key may be gone, and a rebuild must not lose what it contributed.
        agency = opened.agency or opened.sender
        if opened.kind == "REFERRAL":
            received = micros(opened.body["received_at"])
            first = store.put_referral(tx, rid, opened.body, received)
            store.put_referral_info(tx, rid, opened.body)
            roles = {s["subject_ref"]: s["role"] for s in opened.body["subject_refs"]}
            self._index(tx, opened, roles, received)
            if first:
                indexed = roles if self.persons is not None else None
                self._facts += tally.referral(tx, rid, indexed, self.clock)
        elif opened.kind == "INTEL":
            store.put_matches(tx, rid, opened.msg_id, agency, opened.body["matches"])
            # Late information, as the broker's signed release record says (the view also judges it from
            # the facts it holds: a return made after the case's first outcome).
            store.put_return(tx, rid, opened.msg_id, opened.created_at, opened.release.late)
            eid = opened.body["enquiry_id"]
            if eid and store.put_answer(tx, eid, opened.msg_id, opened.created_at):
                self._facts += tally.answer(tx, eid)
        elif opened.kind == "DECISION":
            return self._decision(tx, opened, agency)
        elif opened.kind == "CONSENT":
            body = {**opened.body, "recorded_at": micros(opened.body["recorded_at"])}
            store.put_consent(tx, rid, body, _notes(opened, "CONSENT_REASON"))
        elif opened.kind == "ENQUIRY":
            addressed = opened.body["addressed_agencies"]
            asked = (self.envelopes.directory.agency(addressed[0]) or addressed[0]) if addressed else ""
            deadline = micros(opened.body["deadline"])
            if store.put_enquiry(tx, rid, asked, opened.body, opened.created_at, deadline):
                self._facts += tally.enquiry(tx, opened.body["enquiry_id"])
            store.touch_case(tx, rid)
            return rid
        self._sections(tx, opened, agency)
        store.touch_case(tx, rid)
        now = now_micros()
        released = record.timestamp_ms * 1000 if record.timestamp_ms > 0 else None
        self.metrics.assembled(now - opened.created_at, None if released is None else now - released)
        return rid

    def _decision(self, tx: Tx, opened: Opened, agency: str) -> str:
        rid, body = opened.referral_id, opened.body
        decided_at = micros(body["decided_at"])
        first = store.put_decision(tx, rid, _with_notes(opened), decided_at)
        if first and body["kind"] == "OUTCOME" and body["outcome"]:
            self._facts += tally.outcome(tx, rid, body["outcome"], self.clock)
        if body["kind"] == "SUBJECT_ADDED" and body.get("subject_ref"):
            # The new person's sealed identity, identifiers and address, as the referral's are kept.
            self._sections(tx, opened, agency, skip=("case_notes",))
            self._index(tx, opened, {body["subject_ref"]: body.get("subject_role") or "OTHER"}, decided_at)
        store.touch_case(tx, rid)
        return rid

    def _index(self, tx: Tx, opened: Opened, roles: dict[str, str], at: int) -> None:
        """The front door indexes each subject whose identity was released to it, by a keyed hash."""
        if self.persons is None:
            return
        for ref, role in roles.items():
            identity = opened.section("identity", ref)
            nhs = opened.section("identifier_nhs", ref)
            found = self.persons.person(identity.payload if identity else None, nhs.payload if nhs else None)
            if found is not None:
                store.put_person(tx, found.key, opened.referral_id, ref, role, at, found.probable)

    def _sections(self, tx: Tx, opened: Opened, agency: str, skip: tuple[str, ...] = ()) -> None:
        for s in opened.sections:
            if s.category in skip:
                continue
            if s.withheld is None:
                status, reason, rule = "RELEASED", None, None
            else:
                status = "REVIEW" if s.withheld.reason.startswith("REVIEW") else "WITHHELD"
                reason, rule = s.withheld.reason, s.withheld.rule_id
            store.put_section(
                tx,
                opened.referral_id,
                opened.msg_id,
                agency,
                opened.created_at,
                s.category,
                s.subject_ref,
                status,
                s.payload,
                reason,
                rule,
            )


def _notes(opened: Opened, kind: str) -> dict[str, str]:
    """The reason of ``kind`` and its decision maker from the message's case notes, where the broker
    released them to this subscriber; where it did not, the hub knows the record but not why or who."""
    notes = opened.section("case_notes")
    released = notes.payload["notes"] if notes is not None and notes.payload is not None else []
    found = next((n for n in released if n["kind"] == kind), None)
    if found is None:
        return {}
    return {"reason": found["text"], "decided_by": found["decided_by"] or ""}


def _with_notes(opened: Opened) -> dict[str, object]:
    """A decision's body with its reason and decision maker from the case notes (see ``_notes``)."""
    notes = _notes(opened, "DECISION_REASON")
    return {**opened.body, "reason": notes.get("reason", ""), "decided_by": notes.get("decided_by", "")}
