"""The real broker handler in process, on a real store, without Kafka: each record sent is handled in one
transaction, and what it would publish is read back from the outbox (releases opened as their subscriber,
audit records decoded)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from devkit.testkit.broker import (
    POLICY,
    case_notes,
    consent_body,
    decision_body,
    intel_body,
    referral_body,
    setup_world,
)
from jigsaw.bus.records import Record
from jigsaw.bus.store import BaseStore, Store
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Envelopes, Opened, SectionInput
from services.broker import state
from services.broker.audit import AUDIT_RECORD
from services.broker.decide import Decider
from services.broker.metrics import BrokerMetrics
from services.broker.policy import load_policy
from services.broker.processor import BrokerProcessor

_KIND_TOPIC = {
    "REFERRAL": "referrals",
    "CONSENT": "consent",
    "ASSIGNMENT": "assignments",
    "DECISION": "decisions",
    "ENQUIRY": "enquiries",
}


class Local:
    def __init__(
        self, registry: SchemaRegistry, tmp: Path, policy: Path = POLICY, store: BaseStore | None = None
    ) -> None:
        self.registry = registry
        self.world = setup_world(registry, policy)
        self.policy = load_policy(policy)
        self.topics = Topics()
        self.processor = BrokerProcessor(
            self.world.party("broker"), Decider(self.policy), self.topics, BrokerMetrics(CollectorRegistry())
        )
        self.store = store or Store(tmp / "broker.sqlite", state.SCHEMA)
        self.store.open()
        self._offset = 0

    def close(self) -> None:
        self.store.close()

    def send(
        self,
        sender: str,
        kind: str,
        rid: str,
        body: Mapping[str, Any],
        items: Sequence[SectionInput] = (),
        *,
        recipients: Sequence[str] = ("broker",),
        sealer: Envelopes | None = None,
    ) -> str:
        msg_id = str(uuid.uuid4())
        value = (sealer or self.world.party(sender)).seal(
            kind=kind,
            referral_id=rid,
            body=body,
            sections=list(items),
            recipients=list(recipients),
            msg_id=msg_id,
        )
        if kind == "INTEL":
            topic = self.topics.intel(self.world.keys[sender].agency or "")
        else:
            topic = getattr(self.topics, _KIND_TOPIC[kind])
        self._offset += 1
        with self.store.transaction() as tx:
            self.processor(Record(topic, 0, self._offset, rid.encode(), value), tx)
        return msg_id

    # -- the messages, as the hub and the connectors send them -------------------------------------
    def referral(
        self,
        rid: str,
        rag: str = "UNKNOWN",
        items: Sequence[SectionInput] = (),
        subjects: Sequence[Mapping[str, Any]] = ({"subject_ref": "S1", "role": "CHILD"},),
        **fields: Any,
    ) -> str:
        return self.send("hub.devon", "REFERRAL", rid, referral_body(rag, subjects, **fields), items)

    def assign(self, rid: str, *subscribers: str, action: str = "ASSIGN") -> str:
        body = {"subscribers": list(subscribers), "action": action, "assigned_by": "m", "assigned_at": 0}
        return self.send("hub.devon", "ASSIGNMENT", rid, body)

    def decision(self, rid: str, kind: str, sender: str = "hub.devon", **fields: Any) -> str:
        return self.send(sender, "DECISION", rid, decision_body(kind, **fields), [case_notes("why")])

    def consent(self, rid: str, kind: str, sender: str = "hub.devon", **fields: Any) -> str:
        return self.send(sender, "CONSENT", rid, consent_body(kind, **fields))

    def intel(
        self,
        sender: str,
        rid: str,
        items: Sequence[SectionInput],
        confidential_addresses: Sequence[Mapping[str, str]] = (),
        sealer: Envelopes | None = None,
    ) -> str:
        agency = self.world.keys[sender].agency or ""
        subjects = sorted({i.subject_ref for i in items})
        body = intel_body(agency, subjects, confidential_addresses=confidential_addresses)
        return self.send(sender, "INTEL", rid, body, items, sealer=sealer)

    # -- what the broker would publish --------------------------------------------------------------
    def _outbox(self, topic: str, rid: str) -> list[bytes]:
        rows = self.store.conn.execute(
            "SELECT value FROM kernel_outbox WHERE topic = ? AND key = ? ORDER BY seq", (topic, rid.encode())
        )
        return [bytes(v) for (v,) in rows]

    def releases(self, subscriber: str, rid: str) -> list[Opened]:
        party = self.world.party(subscriber)
        return [party.open(v, rid.encode()) for v in self._outbox(self.topics.release(subscriber), rid)]

    def view(self, subscriber: str, rid: str) -> dict[tuple[str, str], tuple[str, str]]:
        """(category, subject) -> (RELEASE | WITHHOLD | REVIEW, rule) as the subscriber sees it now; a
        release stays released."""
        out: dict[tuple[str, str], tuple[str, str]] = {}
        for opened in self.releases(subscriber, rid):
            for s in opened.sections:
                key = (s.category, s.subject_ref)
                if s.withheld is None:
                    out[key] = ("RELEASE", "")
                elif out.get(key, ("", ""))[0] != "RELEASE":
                    out[key] = (s.withheld.reason.split(":")[0], s.withheld.rule_id)
        return out

    def audit(self, rid: str) -> list[dict[str, Any]]:
        return [self.registry.decode(v, AUDIT_RECORD) for v in self._outbox(self.topics.audit, rid)]
