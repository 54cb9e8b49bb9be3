"""The broker's per-referral state, in its store: stage, consent, assignments, held messages, decisions.

Everything here is derived from the input topics, so a fresh store replayed from the start rebuilds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jigsaw.bus.store import Tx

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
"""

_OUTCOME_PURPOSE = {
    "STRATEGY_DISCUSSION_S47": "S47_ENQUIRY",
    "IMMEDIATE_PROTECTION": "S47_ENQUIRY",
    "CSC_ASSESSMENT_S17": "S17_ASSESSMENT",
    "EARLY_HELP": "EARLY_HELP",
}


@dataclass(frozen=True)
class ReferralState:
    referral_id: str
    rag: str | None
    outcome: str | None
    consent: str
    family_informed: bool | None
    assigned: frozenset[str]

    @property
    def stage(self) -> str:
        return self.rag if self.rag in ("RED", "AMBER", "GREEN") else "SCREENING"

    @property
    def purpose(self) -> str | None:
        """Why information is shared now, from where the case stands. None after no further action."""
        if self.outcome == "NO_FURTHER_ACTION":
            return None
        if self.outcome in _OUTCOME_PURPOSE:
            return _OUTCOME_PURPOSE[self.outcome]
        return "TRIAGE" if self.stage != "SCREENING" else "SCREENING"

    @property
    def consent_note(self) -> str:
        if self.family_informed is None:
            return self.consent
        return f"{self.consent}; family informed: {'yes' if self.family_informed else 'no'}"


def load(tx: Tx, referral_id: str) -> ReferralState:
    row = tx.execute(
        "SELECT rag, outcome, consent, family_informed FROM referrals WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    rag, outcome, consent, informed = row if row else (None, None, "NONE", None)
    subs = tx.execute("SELECT subscriber FROM assignments WHERE referral_id = ?", (referral_id,))
    return ReferralState(
        referral_id,
        rag,
        outcome,
        consent,
        None if informed is None else bool(informed),
        frozenset(s for (s,) in subs),
    )


def _ensure(tx: Tx, referral_id: str) -> None:
    tx.execute("INSERT OR IGNORE INTO referrals (referral_id) VALUES (?)", (referral_id,))


def set_rag(tx: Tx, referral_id: str, rag: str) -> None:
    _ensure(tx, referral_id)
    tx.execute("UPDATE referrals SET rag = ? WHERE referral_id = ?", (rag, referral_id))


def set_outcome(tx: Tx, referral_id: str, outcome: str) -> None:
    _ensure(tx, referral_id)
    tx.execute("UPDATE referrals SET outcome = ? WHERE referral_id = ?", (outcome, referral_id))


def set_consent(tx: Tx, referral_id: str, consent: str, family_informed: bool | None) -> None:
    _ensure(tx, referral_id)
    tx.execute(
        "UPDATE referrals SET consent = ?, family_informed = ? WHERE referral_id = ?",
        (consent, family_informed, referral_id),
    )


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
