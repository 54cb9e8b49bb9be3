"""The broker's per-referral state, in its store: stage, assignments, held messages, decisions, subjects,
markers and the case's own basis for sharing. Consent per person is in ``consent``.

Everything here is derived from the input topics, so a fresh store replayed from the start rebuilds it.
Tables added later are created with ``IF NOT EXISTS`` beside the old ones, never by altering them, so a
store written by an older broker opens as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jigsaw.bus.store import Tx
from services.broker.policy import Purpose
from services.broker.stages import live_purposes, stage_of

SCHEMA = """
CREATE TABLE IF NOT EXISTS referrals (
    referral_id TEXT PRIMARY KEY, rag TEXT, outcome TEXT, consent TEXT NOT NULL DEFAULT 'NONE',
    family_informed INTEGER
);
CREATE TABLE IF NOT EXISTS assignments (
    referral_id TEXT NOT NULL, subscriber TEXT NOT NULL, PRIMARY KEY (referral_id, subscriber)
);
CREATE TABLE IF NOT EXISTS held (
    msg_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, topic TEXT NOT NULL, value BLOB NOT NULL,
    seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS held_by_referral ON held (referral_id, seq);
-- hold() numbers each message max(seq) + 1: without this index that is a scan of every message held.
CREATE INDEX IF NOT EXISTS held_by_seq ON held (seq);
CREATE TABLE IF NOT EXISTS matches (
    msg_id TEXT NOT NULL, subject_ref TEXT NOT NULL, confidence REAL NOT NULL,
    PRIMARY KEY (msg_id, subject_ref)
);
CREATE TABLE IF NOT EXISTS approvals (
    msg_id TEXT NOT NULL, subscriber TEXT NOT NULL, category TEXT NOT NULL, subject_ref TEXT NOT NULL,
    approved INTEGER NOT NULL, PRIMARY KEY (msg_id, subscriber, category, subject_ref)
);
CREATE TABLE IF NOT EXISTS decisions (
    msg_id TEXT NOT NULL, subscriber TEXT NOT NULL, category TEXT NOT NULL, subject_ref TEXT NOT NULL,
    outcome TEXT NOT NULL, rule_id TEXT NOT NULL,
    PRIMARY KEY (msg_id, subscriber, category, subject_ref)
);
CREATE TABLE IF NOT EXISTS sent (
    msg_id TEXT NOT NULL, subscriber TEXT NOT NULL, PRIMARY KEY (msg_id, subscriber)
);
CREATE TABLE IF NOT EXISTS audit_chain (
    partition INTEGER PRIMARY KEY, seq INTEGER NOT NULL, last_hash BLOB NOT NULL
);
-- The seq of each chain's last signed record: a chain whose head is past it has records to checkpoint.
CREATE TABLE IF NOT EXISTS audit_signed (partition INTEGER PRIMARY KEY, seq INTEGER NOT NULL);
-- The referral's own metadata beyond the RAG: who referred (a professional or the public).
CREATE TABLE IF NOT EXISTS referral_meta (
    referral_id TEXT PRIMARY KEY, referrer_type TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS strategy_discussions (
    referral_id TEXT PRIMARY KEY, msg_id TEXT NOT NULL
);
-- The people of a referral: from its subject_refs and each SUBJECT_ADDED decision.
CREATE TABLE IF NOT EXISTS subjects (
    referral_id TEXT NOT NULL, subject_ref TEXT NOT NULL, role TEXT, unborn INTEGER NOT NULL DEFAULT 0,
    mother_subject_ref TEXT, PRIMARY KEY (referral_id, subject_ref)
);
-- The latest consent record of each person (subject_ref '' = the whole family) in each scope.
CREATE TABLE IF NOT EXISTS consents (
    referral_id TEXT NOT NULL, subject_ref TEXT NOT NULL, scope TEXT NOT NULL, state TEXT NOT NULL,
    party TEXT NOT NULL, gillick INTEGER, categories TEXT NOT NULL, services TEXT NOT NULL,
    msg_id TEXT NOT NULL, PRIMARY KEY (referral_id, subject_ref, scope)
);
-- The case's own para 18(2) ground and whether the family was told: from the latest record that says.
CREATE TABLE IF NOT EXISTS case_basis (
    referral_id TEXT PRIMARY KEY, ground TEXT, family_informed INTEGER, not_informed_reason TEXT
);
-- Confidential-address markers on people, and on one return's addresses.
CREATE TABLE IF NOT EXISTS markers (
    referral_id TEXT NOT NULL, subject_ref TEXT NOT NULL, marked INTEGER NOT NULL,
    PRIMARY KEY (referral_id, subject_ref)
);
CREATE TABLE IF NOT EXISTS address_markers (
    msg_id TEXT NOT NULL, subject_ref TEXT NOT NULL, PRIMARY KEY (msg_id, subject_ref)
);
-- Held messages first seen after the case's outcome was recorded.
CREATE TABLE IF NOT EXISTS late (msg_id TEXT PRIMARY KEY);
"""


@dataclass(frozen=True)
class ReferralState:
    referral_id: str
    rag: str | None
    outcome: str | None
    consent: str
    family_informed: bool | None
    assigned: frozenset[str]
    strategy_discussion: bool = False
    referrer_type: str = "UNKNOWN"
    ground: str | None = None
    not_informed_reason: str | None = None
    marked: frozenset[str] = frozenset()
    # The referral itself has been handled: until then its subjects, markers and referrer are unknown.
    opened: bool = False

    @property
    def stage(self) -> str:
        return stage_of(self.rag, self.outcome, self.strategy_discussion)

    @property
    def purposes(self) -> tuple[Purpose, ...]:
        """Why information is shared now, from where the case stands, in the order they are tried."""
        return live_purposes(self.stage)

    @property
    def purpose(self) -> str | None:
        """The first live purpose: what a release as a whole was evaluated for."""
        return self.purposes[0] if self.purposes else None

    @property
    def decided(self) -> bool:
        return self.outcome is not None


def load(tx: Tx, referral_id: str) -> ReferralState:
    row = tx.execute(
        "SELECT rag, outcome, consent, family_informed FROM referrals WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    rag, outcome, consent, _ = row if row else (None, None, "NONE", None)
    subs = tx.execute("SELECT subscriber FROM assignments WHERE referral_id = ?", (referral_id,))
    meta = tx.execute(
        "SELECT referrer_type FROM referral_meta WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    strategy = tx.execute(
        "SELECT 1 FROM strategy_discussions WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    basis = tx.execute(
        "SELECT ground, family_informed, not_informed_reason FROM case_basis WHERE referral_id = ?",
        (referral_id,),
    ).fetchone()
    ground, informed, why_not = basis if basis else (None, None, None)
    marked = tx.execute(
        "SELECT subject_ref FROM markers WHERE referral_id = ? AND marked = 1", (referral_id,)
    )
    return ReferralState(
        referral_id,
        rag,
        outcome,
        consent,
        None if informed is None else bool(informed),
        frozenset(s for (s,) in subs),
        strategy_discussion=strategy is not None,
        referrer_type=meta[0] if meta else "UNKNOWN",
        opened=meta is not None,
        ground=ground,
        not_informed_reason=why_not,
        marked=frozenset(s for (s,) in marked),
    )


def _ensure(tx: Tx, referral_id: str) -> None:
    tx.execute("INSERT OR IGNORE INTO referrals (referral_id) VALUES (?)", (referral_id,))


def set_rag(tx: Tx, referral_id: str, rag: str) -> None:
    _ensure(tx, referral_id)
    tx.execute("UPDATE referrals SET rag = ? WHERE referral_id = ?", (rag, referral_id))


def set_outcome(tx: Tx, referral_id: str, outcome: str) -> None:
    _ensure(tx, referral_id)
    tx.execute("UPDATE referrals SET outcome = ? WHERE referral_id = ?", (outcome, referral_id))


def set_referrer(tx: Tx, referral_id: str, referrer_type: str) -> None:
    tx.execute("INSERT OR REPLACE INTO referral_meta VALUES (?, ?)", (referral_id, referrer_type))


def set_strategy_discussion(tx: Tx, referral_id: str, msg_id: str) -> None:
    tx.execute("INSERT OR IGNORE INTO strategy_discussions VALUES (?, ?)", (referral_id, msg_id))


def set_consent(tx: Tx, referral_id: str, consent: str, family_informed: bool | None) -> None:
    """The latest consent record's kind, family-wide: kept for the record; decisions read ``consent``."""
    _ensure(tx, referral_id)
    tx.execute(
        "UPDATE referrals SET consent = ?, family_informed = ? WHERE referral_id = ?",
        (consent, family_informed, referral_id),
    )


def set_basis(
    tx: Tx,
    referral_id: str,
    ground: str | None,
    family_informed: bool | None,
    not_informed_reason: str | None,
) -> None:
    """Update the case's ground, and whether the family was told (with why not), from a record that says."""
    tx.execute("INSERT OR IGNORE INTO case_basis (referral_id) VALUES (?)", (referral_id,))
    if ground is not None:
        tx.execute("UPDATE case_basis SET ground = ? WHERE referral_id = ?", (ground, referral_id))
    if family_informed is not None:
        tx.execute(
            "UPDATE case_basis SET family_informed = ?, not_informed_reason = ? WHERE referral_id = ?",
            (family_informed, None if family_informed else not_informed_reason, referral_id),
        )


def add_subject(
    tx: Tx, referral_id: str, subject_ref: str, role: str | None, unborn: bool, mother: str | None = None
) -> None:
    # A later mention fills in what an earlier one left out and never erases what it said.
    tx.execute(
        "INSERT INTO subjects VALUES (?, ?, ?, ?, ?) ON CONFLICT (referral_id, subject_ref) DO UPDATE SET "
        "role = coalesce(excluded.role, subjects.role), unborn = max(excluded.unborn, subjects.unborn), "
        "mother_subject_ref = coalesce(excluded.mother_subject_ref, subjects.mother_subject_ref)",
        (referral_id, subject_ref, role, unborn, mother),
    )


def subjects(tx: Tx, referral_id: str) -> dict[str, tuple[str | None, bool]]:
    """subject_ref -> (role, unborn) of the referral's people."""
    rows = tx.execute("SELECT subject_ref, role, unborn FROM subjects WHERE referral_id = ?", (referral_id,))
    return {s: (r, bool(u)) for s, r, u in rows}


def set_marker(tx: Tx, referral_id: str, subject_ref: str, marked: bool) -> bool:
    """Mark (or lift) a person's confidential-address marker; True if that changed anything."""
    row = tx.execute(
        "SELECT marked FROM markers WHERE referral_id = ? AND subject_ref = ?", (referral_id, subject_ref)
    ).fetchone()
    if row is not None and bool(row[0]) == marked:
        return False
    tx.execute("INSERT OR REPLACE INTO markers VALUES (?, ?, ?)", (referral_id, subject_ref, marked))
    return marked or row is not None


def mark_address(tx: Tx, msg_id: str, subject_ref: str) -> None:
    tx.execute("INSERT OR IGNORE INTO address_markers VALUES (?, ?)", (msg_id, subject_ref))


def address_marks(tx: Tx, msg_id: str) -> frozenset[str]:
    """The subjects whose addresses in this message are marked confidential."""
    rows = tx.execute("SELECT subject_ref FROM address_markers WHERE msg_id = ?", (msg_id,))
    return frozenset(s for (s,) in rows)


def mark_late(tx: Tx, msg_id: str) -> None:
    tx.execute("INSERT OR IGNORE INTO late VALUES (?)", (msg_id,))


def is_late(tx: Tx, msg_id: str) -> bool:
    return tx.execute("SELECT 1 FROM late WHERE msg_id = ?", (msg_id,)).fetchone() is not None


def assign(tx: Tx, referral_id: str, subscribers: list[str], on: bool) -> None:
    for sub in subscribers:
        if on:
            tx.execute("INSERT OR IGNORE INTO assignments VALUES (?, ?)", (referral_id, sub))
        else:
            tx.execute("DELETE FROM assignments WHERE referral_id = ? AND subscriber = ?", (referral_id, sub))


def hold(tx: Tx, msg_id: str, referral_id: str, topic: str, value: bytes) -> None:
    (seq,) = tx.execute("SELECT coalesce(max(seq), 0) + 1 FROM held").fetchone()
    tx.execute("INSERT OR IGNORE INTO held VALUES (?, ?, ?, ?, ?)", (msg_id, referral_id, topic, value, seq))


def held(tx: Tx, referral_id: str, msg_id: str | None = None) -> list[tuple[str, bytes]]:
    """(msg_id, envelope) of the messages held for a referral, oldest first; or just ``msg_id``."""
    if msg_id is not None:
        rows = tx.execute(
            "SELECT msg_id, value FROM held WHERE msg_id = ? AND referral_id = ?", (msg_id, referral_id)
        )
    else:
        rows = tx.execute("SELECT msg_id, value FROM held WHERE referral_id = ? ORDER BY seq", (referral_id,))
    return [(m, v) for m, v in rows]


def record_matches(tx: Tx, msg_id: str, matches: list[dict[str, Any]]) -> None:
    for m in matches:
        tx.execute(
            "INSERT OR REPLACE INTO matches VALUES (?, ?, ?)", (msg_id, m["subject_ref"], m["confidence"])
        )


def confidence(tx: Tx, msg_id: str) -> dict[str, float]:
    rows = tx.execute("SELECT subject_ref, confidence FROM matches WHERE msg_id = ?", (msg_id,))
    return {s: c for s, c in rows}


def set_approval(
    tx: Tx, msg_id: str, subscriber: str, category: str, subject_ref: str, approved: bool
) -> None:
    tx.execute(
        "INSERT OR REPLACE INTO approvals VALUES (?, ?, ?, ?, ?)",
        (msg_id, subscriber, category, subject_ref, approved),
    )


def approvals(tx: Tx, msg_id: str) -> dict[tuple[str, str, str], bool]:
    """A reviewer's word on one (subscriber, category, subject) of a message."""
    rows = tx.execute(
        "SELECT subscriber, category, subject_ref, approved FROM approvals WHERE msg_id = ?", (msg_id,)
    )
    return {(s, c, r): bool(a) for s, c, r, a in rows}


def previous(tx: Tx, msg_id: str, subscriber: str) -> dict[tuple[str, str], tuple[str, str]]:
    rows = tx.execute(
        "SELECT category, subject_ref, outcome, rule_id FROM decisions WHERE msg_id = ? AND subscriber = ?",
        (msg_id, subscriber),
    )
    return {(c, s): (o, r) for c, s, o, r in rows}


def record_decision(
    tx: Tx, msg_id: str, subscriber: str, category: str, subject_ref: str, outcome: str, rule_id: str
) -> None:
    tx.execute(
        "INSERT OR REPLACE INTO decisions VALUES (?, ?, ?, ?, ?, ?)",
        (msg_id, subscriber, category, subject_ref, outcome, rule_id),
    )


def mark_sent(tx: Tx, msg_id: str, subscriber: str) -> bool:
    """Record that ``subscriber`` has had a release of ``msg_id``; False if it had one before."""
    return tx.execute("INSERT OR IGNORE INTO sent VALUES (?, ?)", (msg_id, subscriber)).rowcount == 1


def was_sent(tx: Tx, msg_id: str, subscriber: str) -> bool:
    return (
        tx.execute("SELECT 1 FROM sent WHERE msg_id = ? AND subscriber = ?", (msg_id, subscriber)).fetchone()
        is not None
    )


def chain_head(tx: Tx, partition: int) -> tuple[int, bytes]:
    row = tx.execute("SELECT seq, last_hash FROM audit_chain WHERE partition = ?", (partition,)).fetchone()
    return (int(row[0]), bytes(row[1])) if row else (0, bytes(32))


def set_chain_head(tx: Tx, partition: int, seq: int, last_hash: bytes) -> None:
    tx.execute("INSERT OR REPLACE INTO audit_chain VALUES (?, ?, ?)", (partition, seq, last_hash))


def signed_seq(tx: Tx, partition: int) -> int:
    row = tx.execute("SELECT seq FROM audit_signed WHERE partition = ?", (partition,)).fetchone()
    return int(row[0]) if row else 0


def set_signed_seq(tx: Tx, partition: int, seq: int) -> None:
    tx.execute("INSERT OR REPLACE INTO audit_signed VALUES (?, ?)", (partition, seq))


def unsigned_chains(tx: Tx) -> list[int]:
    """Partitions whose chain runs past its last signed record."""
    rows = tx.execute(
        "SELECT c.partition FROM audit_chain c LEFT JOIN audit_signed s USING (partition)"
        " WHERE c.seq > coalesce(s.seq, 0) ORDER BY c.partition"
    )
    return [int(p) for (p,) in rows]
