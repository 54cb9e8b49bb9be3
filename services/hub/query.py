"""Reads of the case store that the case list and the case view share, with the rule for a breached
deadline stated once, in SQL, so the list filters on exactly what the view shows.

Every query here is a constant: its text is composed at import time from the fragments below, and every
value a caller supplies is bound as a parameter.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from jigsaw.bus.store import Conn

# Over ``enquiries e``: the time of the enquiry's first answer (the answers table's key serves it).
_FIRST_ANSWER = "(SELECT min(a.answered_at) FROM answers a WHERE a.enquiry_id = e.enquiry_id)"
# An enquiry is breached when its first answer came after its deadline, or when none has come and the
# deadline has passed by ``:now``. A late answer leaves it breached: the deadline was missed.
_BREACHED = f"coalesce({_FIRST_ANSWER}, :now) > e.deadline"

_ENQUIRIES = (
    "SELECT e.enquiry_id, e.agency, e.categories, e.purpose, e.deadline, e.sent_at,"  # noqa: S608 - constants
    f" {_FIRST_ANSWER}, {_BREACHED} FROM enquiries e WHERE e.referral_id = :referral_id"
    " ORDER BY e.deadline, e.agency, e.enquiry_id"
)

# A filter left as NULL matches every case, so one constant statement serves every combination of them;
# scanning ``cases_by_update`` in order lets the LIMIT stop the scan once a page is full.
_CASES = (
    "SELECT referral_id, rag, outcome, updated_at, breached FROM ("  # noqa: S608 - constants
    " SELECT c.referral_id, c.rag, c.outcome, c.updated_at,"
    # 0 or 1 rather than a boolean, which PostgreSQL would not compare with the :breached integer.
    " CASE WHEN EXISTS (SELECT 1 FROM enquiries e WHERE e.referral_id = c.referral_id"
    f" AND {_BREACHED}) THEN 1 ELSE 0 END AS breached"
    " FROM cases c"
    # Each filter cast: PostgreSQL cannot type a parameter from ``:x IS NULL`` alone.
    " WHERE (CAST(:rag AS TEXT) IS NULL OR c.rag = :rag)"
    " AND (CAST(:outcome AS TEXT) IS NULL OR c.outcome = :outcome)"
    " AND (CAST(:since AS BIGINT) IS NULL OR c.updated_at >= :since)) AS listed"
    " WHERE CAST(:breached AS INTEGER) IS NULL OR breached = CAST(:breached AS INTEGER)"
    " ORDER BY updated_at DESC, referral_id LIMIT :limit"
)


# Unanswered enquiries by their RAG rating, and of those the ones whose deadline has passed by ``:now``
# (the breached rule above, for an enquiry with no answer yet).
_OUTSTANDING = (
    "SELECT e.rag, count(*), sum(CASE WHEN :now > e.deadline THEN 1 ELSE 0 END) FROM enquiries e"
    " WHERE NOT EXISTS (SELECT 1 FROM answers a WHERE a.enquiry_id = e.enquiry_id) GROUP BY e.rag"
)


class Enquiry(NamedTuple):
    enquiry_id: str
    agency: str
    categories: str  # JSON, as stored
    purpose: str
    deadline: int
    sent_at: int
    answered_at: int | None  # the first answer's time
    breached: bool


class CaseRow(NamedTuple):
    referral_id: str
    rag: str | None
    outcome: str | None
    updated_at: int
    breached: bool


def enquiries(conn: Conn, referral_id: str, now_us: int) -> list[Enquiry]:
    """One referral's enquiries, soonest deadline first, each with its first answer and whether it is
    breached as of ``now_us``."""
    rows = conn.execute(_ENQUIRIES, {"referral_id": referral_id, "now": now_us})
    return [
        Enquiry(eid, agency, cats, purpose, due, sent, answered, bool(late))
        for eid, agency, cats, purpose, due, sent, answered, late in rows
    ]


def cases_by_rag(conn: Conn) -> dict[str, int]:
    """The cases held, by their current RAG rating (UNKNOWN: not rated, or no referral released here)."""
    rows = conn.execute(
        "SELECT coalesce(rag, 'UNKNOWN'), count(*) FROM cases GROUP BY coalesce(rag, 'UNKNOWN')"
    )
    return {rag: int(n) for rag, n in rows}


def outstanding_enquiries(conn: Conn, now_us: int) -> dict[str, tuple[int, int]]:
    """For each RAG rating, the enquiries not yet answered and how many of them are past their deadline."""
    rows = conn.execute(_OUTSTANDING, {"now": now_us})
    return {rag: (int(n), int(late or 0)) for rag, n, late in rows}


def cases(
    conn: Conn,
    now_us: int,
    *,
    rag: str | None = None,
    outcome: str | None = None,
    breached: bool | None = None,
    updated_since_us: int | None = None,
    limit: int = 100,
) -> list[CaseRow]:
    """A page of cases, most recently updated first; each filter given narrows it, one query in all."""
    args = {
        "now": now_us,
        "rag": rag,
        "outcome": outcome,
        "breached": breached,
        "since": updated_since_us,
        "limit": limit,
    }
    rows = conn.execute(_CASES, args)
    return [CaseRow(rid, r, o, at, bool(late)) for rid, r, o, at, late in rows]


def current_rag(conn: Conn, referral_id: str) -> str | None:
    """The case's RAG rating now, if the case exists (a RAG change records what it changed from)."""
    row = conn.execute("SELECT rag FROM cases WHERE referral_id = ?", (referral_id,)).fetchone()
    return row[0] if row else None


def referral_known(conn: Conn, referral_id: str) -> bool:
    """Whether this hub has heard of the referral at all: a view of it, or an enquiry about it (every hub
    reads the enquiries, which name the referral, whether or not anything was released to it)."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM cases WHERE referral_id = :r)"
        " OR EXISTS (SELECT 1 FROM referral_meta WHERE referral_id = :r)"
        " OR EXISTS (SELECT 1 FROM enquiries WHERE referral_id = :r)",
        {"r": referral_id},
    ).fetchone()
    return bool(row[0])


def referral_opened(conn: Conn, referral_id: str) -> bool:
    """Whether the referral itself was opened: its metadata released here, or its enquiries sent. A case
    view alone is not that: an agency's unsolicited report may come before the referral it starts."""
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM referral_meta WHERE referral_id = :r)"
        " OR EXISTS (SELECT 1 FROM enquiries WHERE referral_id = :r)",
        {"r": referral_id},
    ).fetchone()
    return bool(row[0])


def has_case(conn: Conn, referral_id: str) -> bool:
    """Whether anything of the referral was released to this hub's subscriber, which the broker does only
    for a subscriber assigned to it."""
    row = conn.execute("SELECT 1 FROM cases WHERE referral_id = ?", (referral_id,)).fetchone()
    return row is not None


def held_for_review(conn: Conn, referral_id: str, msg_id: str, category: str, subject_ref: str) -> bool:
    """Whether that section of that message is held here for REVIEW (any subject, if none is named)."""
    row = conn.execute(
        "SELECT 1 FROM sections WHERE referral_id = :r AND source_msg_id = :m AND category = :c"
        " AND (:s = '' OR subject_ref = :s) AND status = 'REVIEW' LIMIT 1",
        {"r": referral_id, "m": msg_id, "c": category, "s": subject_ref},
    ).fetchone()
    return row is not None


class Event(NamedTuple):
    """A strategy discussion, a confidential-address marker, a subject added or referrer feedback."""

    kind: str
    subject_ref: str | None
    subject_role: str | None
    unborn: bool
    marker_lifted: bool
    feedback: str | None  # JSON, as stored
    reason: str
    decided_by: str
    decided_at: int


def events(conn: Conn, referral_id: str) -> list[Event]:
    """The case's other decisions, oldest first."""
    rows = conn.execute(
        "SELECT kind, subject_ref, subject_role, unborn, marker_lifted, feedback, reason, decided_by,"
        " decided_at FROM case_events WHERE referral_id = ? ORDER BY decided_at, decision_id",
        (referral_id,),
    )
    return [Event(k, s, r, bool(u), bool(m), f, why, by, at) for k, s, r, u, m, f, why, by, at in rows]


# A return is late information when the broker said so, or when it was made after the case's first
# outcome (DOMAIN.md, "Stages, outcomes and late information").
_LATE = (
    "SELECT r.source_msg_id FROM returns r WHERE r.referral_id = :r AND (r.late = 1 OR r.created_at >"
    " coalesce((SELECT min(o.decided_at) FROM outcomes o WHERE o.referral_id = :r), r.created_at))"
)


def late_returns(conn: Conn, referral_id: str) -> set[str]:
    """The msg_ids of the referral's agency returns that are late information."""
    return {m for (m,) in conn.execute(_LATE, {"r": referral_id})}


def late_since(conn: Conn, referral_id: str) -> dict[str, int]:
    """For each return the broker said is late, the earliest time it can have been first seen: the latest
    outcome held here when its late release came, else the case's first outcome (the broker calls a return
    late only once it has an outcome)."""
    rows = conn.execute(
        "SELECT r.source_msg_id, coalesce(r.late_after, (SELECT min(o.decided_at) FROM outcomes o"
        " WHERE o.referral_id = :r)) FROM returns r WHERE r.referral_id = :r AND r.late = 1",
        {"r": referral_id},
    )
    return {m: at for m, at in rows if at is not None}


def case_ground(conn: Conn, referral_id: str) -> tuple[str | None, bool | None, str | None]:
    """The case's para 18(2) ground (from its latest consent record that names one), and whether the
    family was told and if not why (from its latest record that says)."""
    ground = conn.execute(
        "SELECT ground FROM consents WHERE referral_id = ? AND ground IS NOT NULL"
        " ORDER BY recorded_at DESC, consent_id DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    told = conn.execute(
        "SELECT family_informed, not_informed_reason FROM consents WHERE referral_id = ?"
        " AND family_informed IS NOT NULL ORDER BY recorded_at DESC, consent_id DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    return (
        ground[0] if ground else None,
        None if told is None else bool(told[0]),
        told[1] if told else None,
    )


def case_state(conn: Conn, referral_id: str) -> tuple[str | None, str | None, bool]:
    """The case's rating, latest outcome and whether a strategy discussion was convened: its stage."""
    row = conn.execute("SELECT rag, outcome FROM cases WHERE referral_id = ?", (referral_id,)).fetchone()
    strategy = conn.execute(
        "SELECT 1 FROM case_events WHERE referral_id = ? AND kind = 'STRATEGY_DISCUSSION' LIMIT 1",
        (referral_id,),
    ).fetchone()
    if row is None:
        meta = conn.execute(
            "SELECT initial_rag FROM referral_meta WHERE referral_id = ?", (referral_id,)
        ).fetchone()
        return (meta[0] if meta else None), None, strategy is not None
    return row[0], row[1], strategy is not None


def case_subjects(conn: Conn, referral_id: str) -> dict[str, str] | None:
    """The case's subjects and their roles, the referral's and those added since; None if this hub was
    not given the referral (so it cannot say who its subjects are)."""
    meta = conn.execute("SELECT subjects FROM referral_meta WHERE referral_id = ?", (referral_id,)).fetchone()
    if meta is None:
        return None
    roles = {s["subject_ref"]: s["role"] for s in json.loads(meta[0])}
    added = conn.execute(
        "SELECT subject_ref, subject_role FROM case_events WHERE referral_id = ? AND kind = 'SUBJECT_ADDED'",
        (referral_id,),
    )
    roles.update({ref: role or "OTHER" for ref, role in added if ref})
    return roles
