"""The hub consumer's store: the facts each subscriber was given, from which its case views are rendered.

Facts are stored so that applying the same set of inputs in any order gives the same rows (releases are
unions: a section released once stays released; histories are keyed by their ids). So the view after a
rebuild, which reads the topics in a different interleaving, equals the live one.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from jigsaw.bus.store import Tx

SCHEMA = """
CREATE TABLE IF NOT EXISTS referral_meta (
    referral_id TEXT PRIMARY KEY, source_type TEXT, received_at INTEGER, concerns TEXT, subjects TEXT,
    initial_rag TEXT
);
CREATE TABLE IF NOT EXISTS sections (
    referral_id TEXT NOT NULL, source_msg_id TEXT NOT NULL, category TEXT NOT NULL, subject_ref TEXT NOT NULL,
    agency TEXT NOT NULL, status TEXT NOT NULL, payload TEXT, reason TEXT, rule_id TEXT,
    created_at INTEGER NOT NULL, PRIMARY KEY (source_msg_id, category, subject_ref)
);
CREATE INDEX IF NOT EXISTS sections_by_referral ON sections (referral_id);
CREATE TABLE IF NOT EXISTS matches (
    referral_id TEXT NOT NULL, source_msg_id TEXT NOT NULL, subject_ref TEXT NOT NULL, agency TEXT NOT NULL,
    method TEXT NOT NULL, confidence REAL NOT NULL, PRIMARY KEY (source_msg_id, subject_ref)
);
CREATE TABLE IF NOT EXISTS rag_history (
    decision_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, rag_from TEXT, rag_to TEXT NOT NULL,
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outcomes (
    decision_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, outcome TEXT NOT NULL, reason TEXT NOT NULL,
    decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL, feedback TEXT
);
CREATE TABLE IF NOT EXISTS enquiries (
    enquiry_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, agency TEXT NOT NULL, categories TEXT NOT NULL,
    purpose TEXT NOT NULL, rag TEXT NOT NULL, deadline INTEGER NOT NULL, sent_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS answers (
    enquiry_id TEXT NOT NULL, source_msg_id TEXT NOT NULL, answered_at INTEGER NOT NULL,
    PRIMARY KEY (enquiry_id, source_msg_id)
);
CREATE TABLE IF NOT EXISTS cases (
    referral_id TEXT PRIMARY KEY, rag TEXT, outcome TEXT, updated_at INTEGER NOT NULL
);
-- Every update (touch_case) and every view reads these by referral: without the indexes each read is a
-- scan of the whole table, and the hub slows down in proportion to the number of cases it holds.
CREATE INDEX IF NOT EXISTS matches_by_referral ON matches (referral_id);
CREATE INDEX IF NOT EXISTS rag_history_by_referral ON rag_history (referral_id, decided_at);
CREATE INDEX IF NOT EXISTS outcomes_by_referral ON outcomes (referral_id, decided_at);
CREATE INDEX IF NOT EXISTS enquiries_by_referral ON enquiries (referral_id);
CREATE INDEX IF NOT EXISTS cases_by_update ON cases (updated_at DESC, referral_id);
"""


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_default)


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    raise TypeError(f"cannot store {type(value).__name__}")


def put_section(
    tx: Tx,
    referral_id: str,
    msg_id: str,
    agency: str,
    created_at: int,
    category: str,
    subject_ref: str,
    status: str,
    payload: dict[str, Any] | None,
    reason: str | None,
    rule_id: str | None,
) -> bool:
    """Store what the subscriber was given. A release is never taken back; otherwise the later decision
    stands (a refusal's reason changes when consent is refused, a review is declined): the broker's releases
    of one referral share a partition, so they arrive here, and in a rebuild, in the order it decided."""
    row = tx.execute(
        "SELECT status FROM sections WHERE source_msg_id = ? AND category = ? AND subject_ref = ?",
        (msg_id, category, subject_ref),
    ).fetchone()
    if row is not None and row[0] == "RELEASED":
        return False
    tx.execute(
        "INSERT OR REPLACE INTO sections VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            referral_id,
            msg_id,
            category,
            subject_ref,
            agency,
            status,
            _json(payload) if payload is not None else None,
            reason,
            rule_id,
            created_at,
        ),
    )
    return True


def put_matches(tx: Tx, referral_id: str, msg_id: str, agency: str, matches: list[dict[str, Any]]) -> None:
    for m in matches:
        tx.execute(
            "INSERT OR REPLACE INTO matches VALUES (?, ?, ?, ?, ?, ?)",
            (referral_id, msg_id, m["subject_ref"], agency, m["method"], m["confidence"]),
        )


def put_referral(tx: Tx, referral_id: str, body: dict[str, Any], received_at: int) -> None:
    tx.execute(
        "INSERT OR REPLACE INTO referral_meta VALUES (?, ?, ?, ?, ?, ?)",
        (
            referral_id,
            body["source_type"],
            received_at,
            _json(body["concerns"]),
            _json(body["subject_refs"]),
            body["rag"],
        ),
    )


def put_decision(tx: Tx, referral_id: str, body: dict[str, Any], decided_at: int) -> None:
    if body["kind"] == "RAG_CHANGE" and body["rag_to"]:
        tx.execute(
            "INSERT OR IGNORE INTO rag_history VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                body["decision_id"],
                referral_id,
                body["rag_from"],
                body["rag_to"],
                body["reason"],
                body["decided_by"],
                decided_at,
            ),
        )
    elif body["kind"] == "OUTCOME" and body["outcome"]:
        tx.execute(
            "INSERT OR IGNORE INTO outcomes VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                body["decision_id"],
                referral_id,
                body["outcome"],
                body["reason"],
                body["decided_by"],
                decided_at,
                _json(body["referrer_feedback"]),
            ),
        )


def put_enquiry(
    tx: Tx, referral_id: str, agency: str, body: dict[str, Any], sent_at: int, deadline: int
) -> None:
    tx.execute(
        "INSERT OR IGNORE INTO enquiries VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body["enquiry_id"],
            referral_id,
            agency,
            _json(body["categories"]),
            body["purpose"],
            body["rag"],
            deadline,
            sent_at,
        ),
    )


def put_answer(tx: Tx, enquiry_id: str, msg_id: str, answered_at: int) -> None:
    tx.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?)", (enquiry_id, msg_id, answered_at))


def touch_case(tx: Tx, referral_id: str) -> None:
    """Refresh the list/filter columns from the facts alone (latest RAG, outcome, newest fact's time),
    so the row is the same whatever order the facts arrived in."""
    rag = tx.execute(
        "SELECT rag_to FROM rag_history WHERE referral_id = ?"
        " ORDER BY decided_at DESC, decision_id DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    if rag is None:
        rag = tx.execute(
            "SELECT initial_rag FROM referral_meta WHERE referral_id = ?", (referral_id,)
        ).fetchone()
    outcome = tx.execute(
        "SELECT outcome FROM outcomes WHERE referral_id = ?"
        " ORDER BY decided_at DESC, decision_id DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    (updated,) = tx.execute(_NEWEST, (referral_id,) * 4).fetchone()
    tx.execute(
        "INSERT OR REPLACE INTO cases VALUES (?, ?, ?, ?)",
        (referral_id, rag[0] if rag else None, outcome[0] if outcome else None, updated or 0),
    )


_NEWEST = """
SELECT max(t) FROM (
    SELECT max(created_at) AS t FROM sections WHERE referral_id = ?
    UNION ALL SELECT max(decided_at) FROM rag_history WHERE referral_id = ?
    UNION ALL SELECT max(decided_at) FROM outcomes WHERE referral_id = ?
    UNION ALL SELECT max(sent_at) FROM enquiries WHERE referral_id = ?
)
"""
