"""The audit records the broker writes (AuditRecord v4): one per section decision, consent record and
enquiry, each on the chain of its partition, and the signed checkpoints over each chain (see ``audit``
for the chain itself).

A decision's record names the subject it concerns, the sender, the purpose and lawful basis it was decided
under, the agreement's reference, the case's own para 18(2) ground and whether the family was told, whether
the source was late information, and what a subject access response must not reveal from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jigsaw.bus.records import HEADER_KIND
from jigsaw.bus.store import Tx
from jigsaw.ids import derived_id
from jigsaw.topics import Topics
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import Verified
from jigsaw.wire.framing import now_micros
from jigsaw.wire.keys import KeyGeneration
from services.broker import state
from services.broker.audit import chain_hash, seal_audit_record
from services.broker.decide import Context, Decision
from services.broker.policy import PURPOSES, Policy


@dataclass(frozen=True)
class Cell:
    """One section's decision for one subscriber, with what it was decided on."""

    category: str
    subject_ref: str
    decision: Decision
    ctx: Context
    consent_note: str


class AuditLog:
    """Appends records to the audit partitions, holding each chain's head for the record in hand, and
    signs a checkpoint on a chain once ``every`` records or ``every_s`` seconds have passed unsigned."""

    def __init__(
        self,
        registry: SchemaRegistry,
        signer: Callable[[], KeyGeneration],
        topics: Topics,
        every: int = 1000,
        every_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        on_signed: Callable[[], None] = lambda: None,
    ) -> None:
        self._registry = registry
        self._signer = signer
        self._topics = topics
        self._every, self._every_s, self._clock = every, every_s, clock
        self._on_signed = on_signed
        self._heads: dict[int, tuple[int, bytes]] = {}
        # Per partition: records appended since its last checkpoint, and when the first of them was. Kept
        # in memory: a count that a rolled-back record inflated only brings a checkpoint forward.
        self._unsigned: dict[int, tuple[int, float]] = {}

    def begin(self) -> None:
        # The chain heads this record moves: read once, written once, rather than per decision.
        self._heads = {}

    def commit(self, tx: Tx) -> None:
        for partition in [p for p in self._heads if self._unsigned.get(p, (0, 0.0))[0] >= self._every]:
            self._checkpoint(tx, partition)
        for partition, (seq, last) in self._heads.items():
            state.set_chain_head(tx, partition, seq, last)

    # -- checkpoints ------------------------------------------------------------------------------------
    def recover(self, tx: Tx, partitions: set[int] | None = None) -> None:
        """At start, and for partitions taken over from another instance: a chain whose last records a
        crash (or that instance) left unsigned is due for a checkpoint at once."""
        for partition in state.unsigned_chains(tx):
            if partitions is None or partition in partitions:
                self._unsigned[partition] = (1, float("-inf"))

    def forget(self, partitions: set[int]) -> None:
        """Partitions now another instance's: their chains are its to sign."""
        for partition in partitions:
            self._unsigned.pop(partition, None)

    def due(self, *, everything: bool = False) -> list[int]:
        """Partitions with records older than the interval not yet under a checkpoint (all with any, at
        shutdown)."""
        now = self._clock()
        return sorted(
            p
            for p, (n, since) in self._unsigned.items()
            if n and (everything or now - since >= self._every_s)
        )

    def checkpoint(self, tx: Tx, partitions: list[int]) -> int:
        """Sign a checkpoint on each of ``partitions``' chains, in its own transaction. How many it signed."""
        self.begin()
        signed = sum(self._checkpoint(tx, p) for p in partitions)
        for partition, (seq, last) in self._heads.items():
            state.set_chain_head(tx, partition, seq, last)
        return signed

    def _checkpoint(self, tx: Tx, partition: int) -> bool:
        self._unsigned.pop(partition, None)
        tx.fence_partition(partition)  # only the partition's owner may extend its chain
        head = self._head(tx, partition)
        if head[0] == 0 or state.signed_seq(tx, partition) >= head[0]:
            return False  # nothing on this chain since its last signature
        self._write(
            tx,
            partition,
            None,
            {
                "event": "CHECKPOINT",
                "decision_id": f"checkpoint-{partition}-{head[0] + 1}",
                "source_msg_id": "",
                "subscriber": "",
                "category": "",
                "outcome": "UNKNOWN",
                "rule_id": "",
                "reason": f"signs partition {partition}'s chain to seq {head[0]}",
                "lawful_basis": None,
                "policy_version": "",
                "referral_id": "",
                "partition": partition,
            },
            signed=True,
        )
        state.set_signed_seq(tx, partition, head[0] + 1)
        self._on_signed()
        return True

    def decision(
        self,
        tx: Tx,
        policy: Policy,
        where: tuple[int, str],
        v: Verified,
        cell: Cell,
        ref: state.ReferralState,
        late: bool,
    ) -> None:
        partition, decision_id = where
        d, ctx = cell.decision, cell.ctx
        self.append(
            tx,
            policy,
            partition,
            ref.referral_id,
            {
                "event": "DECISION",
                "decision_id": decision_id,
                "source_msg_id": v.msg_id,
                "actor": v.envelope["sender"],
                "subscriber": ctx.subscriber,
                "category": cell.category,
                "subject_ref": cell.subject_ref,
                "outcome": d.outcome,
                "rule_id": d.rule_id,
                "reason": d.reason,
                "lawful_basis": d.lawful_basis,
                # The purpose the section was decided for; none when no purpose was live for it.
                "purpose": d.purpose if d.purpose in PURPOSES else None,
                "stage": ref.stage,
                "consent_state": cell.consent_note,
                "agreement_ref": policy.agreement.reference,
                "ground": ref.ground,
                "family_informed": ref.family_informed,
                "not_informed_reason": ref.not_informed_reason,
                "late": late,
                "protected": policy.protected(cell.category, ctx.marked, ctx.referrer_type),
            },
        )

    def consent(self, tx: Tx, policy: Policy, partition: int, v: Verified, ref: state.ReferralState) -> None:
        """A consent record is audited itself, not only through the cells it changes: a refusal that
        changes no decision (nothing was held yet) must still say who recorded it, when, and for whom."""
        body = v.body
        who = body["decided_by"] or v.envelope["sender"]
        self.append(
            tx,
            policy,
            partition,
            ref.referral_id,
            {
                "event": "CONSENT",
                "decision_id": derived_id("consent-audit", v.msg_id),
                "source_msg_id": v.msg_id,
                "actor": v.envelope["sender"],
                "subscriber": "",
                "category": "",
                "subject_ref": body.get("subject_ref"),
                "categories": list(body.get("categories") or []),
                "outcome": "UNKNOWN",
                "rule_id": body["kind"],
                "reason": f"{body['kind']} ({body['scope']}) recorded by {who}",
                "lawful_basis": None,
                "purpose": ref.purpose,
                "stage": ref.stage,
                "consent_state": body["kind"],
                "agreement_ref": policy.agreement.reference,
                "ground": body.get("ground"),
                "family_informed": body["family_informed"],
                "not_informed_reason": body["not_informed_reason"],
            },
        )

    def enquiry(self, tx: Tx, policy: Policy, partition: int, v: Verified) -> None:
        """An enquiry tells an agency that a child is being looked at: a disclosure, so it is audited,
        one record per agency asked and subject asked about (by pseudonymous reference), with the
        agreement, ground and lawful basis the enquiry itself states."""
        body = v.body
        for agency in body["addressed_agencies"]:
            for subject_ref in body["subject_refs"]:
                self.append(
                    tx,
                    policy,
                    partition,
                    v.envelope["referral_id"],
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
                        "purpose": body["purpose"] if body["purpose"] in PURPOSES else None,
                        "stage": body["rag"],
                        "consent_state": None,
                        "agreement_ref": body["isa_ref"],
                        "ground": body.get("ground"),
                        "family_informed": body.get("family_informed"),
                        "not_informed_reason": body.get("not_informed_reason"),
                    },
                )

    def append(
        self, tx: Tx, policy: Policy, partition: int, referral_id: str, fields: dict[str, Any]
    ) -> None:
        record = {**fields, "referral_id": referral_id, "policy_version": policy.version}
        self._write(tx, partition, referral_id.encode(), record, signed=False)
        n, since = self._unsigned.get(partition, (0, 0.0))
        self._unsigned[partition] = (n + 1, since if n else self._clock())

    def _head(self, tx: Tx, partition: int) -> tuple[int, bytes]:
        if partition not in self._heads:
            self._heads[partition] = state.chain_head(tx, partition)
        return self._heads[partition]

    def _write(
        self, tx: Tx, partition: int, key: bytes | None, fields: dict[str, Any], *, signed: bool
    ) -> None:
        seq, last = self._head(tx, partition)
        value = seal_audit_record(
            self._registry,
            self._signer(),
            {
                "subject_ref": None,
                "categories": [],
                **fields,
                "seq": seq + 1,
                "prev_hash": last,
                "decided_at": now_micros(),
            },
            signed=signed,
        )
        self._heads[partition] = (seq + 1, chain_hash(value))
        tx.enqueue(self._topics.audit, value, key=key, partition=partition, headers=[(HEADER_KIND, b"AUDIT")])
