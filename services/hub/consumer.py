"""One subscriber's case assembly: releases, decisions and enquiries in, the case store updated.

It verifies the agency's signature end to end and the broker's stamp, decrypts what was released, decodes
it with its own reader schemas, and drops exact copies by release id. Every update commits with its offset.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from jigsaw.bus.records import COMMIT, Outcome, Record
from jigsaw.bus.store import Tx
from jigsaw.errors import PayloadInvalid, UnauthorizedSender
from jigsaw.topics import Topics
from jigsaw.wire.envelope import Envelopes, Opened
from jigsaw.wire.framing import micros, now_micros
from services.hub import store
from services.hub.metrics import HubMetrics


class HubProcessor:
    def __init__(
        self,
        envelopes: Envelopes,
        topics: Topics,
        metrics: HubMetrics,
        on_update: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.envelopes = envelopes
        self.topics = topics
        self.metrics = metrics
        self._on_update = on_update
        self.subscriber = envelopes.me

    @property
    def inputs(self) -> list[str]:
        return [self.topics.release(self.subscriber), self.topics.decisions, self.topics.enquiries]

    def __call__(self, record: Record, tx: Tx) -> Outcome:
        if record.value is None:
            raise PayloadInvalid("an empty record")
        if record.topic == self.topics.release(self.subscriber):
            referral_id = self._release(record, tx)
        else:
            referral_id = self._hub_record(record, tx)
        if referral_id is not None:
            # After this transaction commits: the handler is synchronous, so call_soon runs after it.
            asyncio.get_running_loop().call_soon(self._on_update, referral_id)
        return COMMIT

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
            store.put_referral(tx, rid, opened.body, micros(opened.body["received_at"]))
        elif opened.kind == "INTEL":
            store.put_matches(tx, rid, opened.msg_id, agency, opened.body["matches"])
            if opened.body["enquiry_id"]:
                store.put_answer(tx, opened.body["enquiry_id"], opened.msg_id, opened.created_at)
        self._sections(tx, opened, agency)
        store.touch_case(tx, rid)
        self.metrics.assembled(now_micros() - opened.created_at)
        return rid

    def _sections(self, tx: Tx, opened: Opened, agency: str) -> None:
        for s in opened.sections:
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

    def _hub_record(self, record: Record, tx: Tx) -> str | None:
        v = self.envelopes.verify(record.value or b"", record.key)
        if v.signer.role != "HUB":  # the role of the key that signed, not of the sender's current key
            raise UnauthorizedSender(f"{v.signer.participant_id} is not a hub")
        if not tx.first_seen(v.msg_id, record.value or b""):
            return None
        rid = str(v.envelope["referral_id"])
        if v.envelope["kind"] == "DECISION":
            store.put_decision(tx, rid, v.body, micros(v.body["decided_at"]))
            if v.body["kind"] == "OUTCOME" and v.body["outcome"]:
                self.metrics.outcome(v.body["outcome"])
        elif v.envelope["kind"] == "ENQUIRY":
            addressed = v.body["addressed_agencies"]
            agency = (self.envelopes.directory.agency(addressed[0]) or addressed[0]) if addressed else ""
            store.put_enquiry(tx, rid, agency, v.body, v.created_at, micros(v.body["deadline"]))
        else:
            raise PayloadInvalid(f"a {v.envelope['kind']} message on {record.topic}")
        known = tx.execute("SELECT 1 FROM cases WHERE referral_id = ?", (rid,)).fetchone()
        if known is None:
            return None  # no view of this referral yet: nothing was released to this subscriber
        store.touch_case(tx, rid)
        return rid
