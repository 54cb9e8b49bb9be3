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
-- Referral.v2's own fields (referrer type, immediate risk, parents aware, child's voice recorded).
CREATE TABLE IF NOT EXISTS referral_info (referral_id TEXT PRIMARY KEY, info TEXT NOT NULL);
-- Decisions other than RAG changes and outcomes: strategy discussions, confidential-address markers,
-- subjects added mid-way, referrer feedback.
CREATE TABLE IF NOT EXISTS case_events (
    decision_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, kind TEXT NOT NULL, subject_ref TEXT,
    subject_role TEXT, unborn INTEGER NOT NULL, marker_lifted INTEGER NOT NULL, feedback TEXT,
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, decided_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS case_events_by_referral ON case_events (referral_id, decided_at);
CREATE TABLE IF NOT EXISTS consents (
    consent_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, subject_ref TEXT, party TEXT NOT NULL,
    kind TEXT NOT NULL, scope TEXT NOT NULL, gillick_competent INTEGER, categories TEXT NOT NULL,
    services TEXT NOT NULL, ground TEXT, family_informed INTEGER, not_informed_reason TEXT,
    reason TEXT NOT NULL, decided_by TEXT NOT NULL, recorded_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS consents_by_referral ON consents (referral_id, recorded_at);
-- Each agency return released here, whether the broker said it came after the case's decision, and for
-- one it said so of, the latest outcome this store held when that release came (NULL: none yet).
CREATE TABLE IF NOT EXISTS returns (
    source_msg_id TEXT PRIMARY KEY, referral_id TEXT NOT NULL, created_at INTEGER NOT NULL,
    late INTEGER NOT NULL, late_after INTEGER
);
CREATE INDEX IF NOT EXISTS returns_by_referral ON returns (referral_id);
-- The front door's person index: a keyed hash of a person (services.hub.persons), never a name.
CREATE TABLE IF NOT EXISTS person_index (
    person_key TEXT NOT NULL, referral_id TEXT NOT NULL, subject_ref TEXT NOT NULL, role TEXT,
    received_at INTEGER NOT NULL, probable INTEGER NOT NULL,
    PRIMARY KEY (person_key, referral_id, subject_ref)
);
CREATE INDEX IF NOT EXISTS person_index_by_referral ON person_index (referral_id, subject_ref);
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


def put_referral(tx: Tx, referral_id: str, body: dict[str, Any], received_at: int) -> bool:
    """Whether the referral was new to this store: a later release of it (re-released once a held
    section is decided) replaces the row, and is not a second referral."""
    known = tx.execute("SELECT 1 FROM referral_meta WHERE referral_id = ?", (referral_id,)).fetchone()
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
    return known is None


def put_referral_info(tx: Tx, referral_id: str, body: dict[str, Any]) -> None:
    info = {k: body.get(k) for k in REFERRAL_INFO}
    tx.execute("INSERT OR REPLACE INTO referral_info VALUES (?, ?)", (referral_id, _json(info)))


REFERRAL_INFO = (
    "referrer_type",
    "referrer_anonymity_from_family",
    "immediate_risk",
    "parents_aware",
    "child_voice_recorded",
    "existing_social_worker",
)
EVENT_KINDS = ("STRATEGY_DISCUSSION", "CONFIDENTIAL_ADDRESS", "SUBJECT_ADDED", "REFERRER_FEEDBACK")


def put_consent(tx: Tx, referral_id: str, body: dict[str, Any], notes: dict[str, str]) -> None:
    """One consent record, with its reason and decision maker from the case notes released here."""
    tx.execute(
        "INSERT OR IGNORE INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            body["consent_id"],
            referral_id,
            body.get("subject_ref"),
            body.get("party") or "UNKNOWN",
            body["kind"],
            body["scope"],
            body.get("gillick_competent"),
            _json(body.get("categories") or []),
            _json(body.get("services") or []),
            body.get("ground"),
            body.get("family_informed"),
            body.get("not_informed_reason"),
            notes.get("reason", ""),
            notes.get("decided_by", ""),
            body["recorded_at"],
        ),
    )


def put_return(tx: Tx, referral_id: str, msg_id: str, created_at: int, late: bool) -> None:
    """An agency return released here. Its ``late`` only grows: any release of it said to be late is.
    With the first release said to be late, the latest outcome held here then: the broker saw the return
    after that outcome (a release follows, on the referral's one partition, the decisions before it, so a
    rebuild records the same), and an outcome after it is the decision revisited."""
    tx.execute(
        "INSERT INTO returns SELECT ?, ?, ?, ?, CASE WHEN ? = 1 THEN"
        " (SELECT max(decided_at) FROM outcomes WHERE referral_id = ?) END WHERE true"
        " ON CONFLICT (source_msg_id) DO UPDATE SET late = max(returns.late, excluded.late),"
        " late_after = CASE WHEN returns.late = 1 THEN returns.late_after ELSE excluded.late_after END",
        (msg_id, referral_id, created_at, int(late), int(late), referral_id),
    )


def put_person(
    tx: Tx, key: str, referral_id: str, subject_ref: str, role: str | None, at: int, probable: bool
) -> None:
    """``probable``: keyed by names and a date of birth, not an NHS number (services.hub.persons)."""
    tx.execute(
        "INSERT OR IGNORE INTO person_index VALUES (?, ?, ?, ?, ?, ?)",
        (key, referral_id, subject_ref, role, at, int(probable)),
    )


def put_decision(tx: Tx, referral_id: str, body: dict[str, Any], decided_at: int) -> bool:
    """Whether the decision's row was new to this store (a decision released again is the same one)."""
    if body["kind"] in EVENT_KINDS:
        cur = tx.execute(
            "INSERT OR IGNORE INTO case_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                body["decision_id"],
                referral_id,
                body["kind"],
                body.get("subject_ref"),
                body.get("subject_role"),
                int(bool(body.get("subject_unborn"))),
                int(bool(body.get("marker_lifted"))),
                _json(body["referrer_feedback"]) if body.get("referrer_feedback") else None,
                body["reason"],
                body["decided_by"],
                decided_at,
            ),
        )
    elif body["kind"] == "RAG_CHANGE" and body["rag_to"]:
        cur = tx.execute(
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
        cur = tx.execute(
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
    else:
        return False
    return bool(cur.rowcount == 1)


def put_enquiry(
    tx: Tx, referral_id: str, agency: str, body: dict[str, Any], sent_at: int, deadline: int
) -> bool:
    """Whether the enquiry was new to this store."""
    cur = tx.execute(
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
    return bool(cur.rowcount == 1)


def put_answer(tx: Tx, enquiry_id: str, msg_id: str, answered_at: int) -> bool:
    """Whether this return's answer to the enquiry was new to this store."""
    cur = tx.execute("INSERT OR IGNORE INTO answers VALUES (?, ?, ?)", (enquiry_id, msg_id, answered_at))
    return bool(cur.rowcount == 1)


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
    (updated,) = tx.execute(_NEWEST, (referral_id,) * 6).fetchone()
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
    UNION ALL SELECT max(decided_at) FROM case_events WHERE referral_id = ?
    UNION ALL SELECT max(recorded_at) FROM consents WHERE referral_id = ?
) AS latest
"""
