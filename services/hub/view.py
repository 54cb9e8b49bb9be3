"""Renders one subscriber's case view from its store, as of a given time.

Anything that depends on the clock (a breached deadline, a release date within 28 days, a decision
overdue) is computed here, at read time, so stored facts never go stale and a rebuilt store renders the
same view as the live one.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from jigsaw.bus.store import Conn
from jigsaw.workhours import WorkingHours
from services.hub import query
from services.hub.flags import flags
from services.hub.stage import stage

_CLOCK = WorkingHours()

DAY_US = 86_400_000_000
_DATE_FIELDS = (
    "incident_date",
    "intelligence_date",
    "offence_date",
    "attendance_date",
    "contact_date",
    "episode_date",
    "complaint_date",
    "served_date",
    "latest_incident_date",
    "release_date",
    "start_date",
    "referral_date",
    "open_date",
    "recorded_on",
)
_LABEL_FIELDS = (
    "summary",
    "incident_type",
    "offence",
    "reason",
    "contact_type",
    "complaint_type",
    "episode_type",
    "notice_type",
    "order_type",
    "service",
    "plan_type",
    "outcome",
)


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for v in payload.values() if isinstance(v, list) for i in v if isinstance(i, dict)]


def render(
    conn: Conn, referral_id: str, now_us: int, clock: WorkingHours | None = None
) -> dict[str, Any] | None:
    """The view, or None if nothing of the referral was released here. ``clock`` is the working day the
    one-working-day decision runs on (the default: 09:00 to 17:00, Monday to Friday, Europe/London, less
    England and Wales bank holidays)."""
    case = conn.execute(
        "SELECT rag, outcome, updated_at FROM cases WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    if case is None:
        return None
    meta = conn.execute(
        "SELECT source_type, received_at, concerns, subjects FROM referral_meta WHERE referral_id = ?",
        (referral_id,),
    ).fetchone()
    events = query.events(conn, referral_id)
    refs = json.loads(meta[3]) if meta else []
    roles = {s["subject_ref"]: s["role"] for s in refs}
    roles.update({e.subject_ref: e.subject_role or "OTHER" for e in events if e.kind == "SUBJECT_ADDED"})
    late = query.late_returns(conn, referral_id)
    sections = _sections(conn, referral_id, late)
    enquiries = _enquiries(conn, referral_id, now_us)
    released = [s for s in sections if s["status"] == "RELEASED"]
    decision = _decision(conn, referral_id)
    strategy = any(e.kind == "STRATEGY_DISCUSSION" for e in events)
    return {
        "referral_id": referral_id,
        "rag": case[0],
        "outcome": case[1],
        "stage": stage(case[0], case[1], strategy),
        "updated_at": iso(case[2]),
        "source_type": meta[0] if meta else None,
        "received_at": iso(meta[1]) if meta else None,
        "referral": _info(conn, referral_id),
        "concerns": json.loads(meta[2]) if meta else [],
        "subjects": _subjects(conn, referral_id, roles, refs, events),
        "contributions": _by_agency(sections),
        "withheld": [
            {
                k: s[k]
                for k in ("agency", "category", "subject_ref", "status", "reason", "rule_id", "source_msg_id")
            }
            for s in sections
            if s["status"] != "RELEASED"
        ],
        "enquiries": enquiries,
        "flags": flags(released, roles, now_us, conn, referral_id),
        "timeline": timeline(conn, referral_id, released),
        "rag_history": _rag_history(conn, referral_id),
        "decision": decision,
        **_decision_clock(conn, referral_id, meta[1] if meta else None, now_us, clock or _CLOCK),
        "strategy_discussions": [
            {"reason": e.reason, "by": e.decided_by, "at": iso(e.decided_at)}
            for e in events
            if e.kind == "STRATEGY_DISCUSSION"
        ],
        "referrer_feedback": _feedback(decision, events),
        "consent": _consents(conn, referral_id),
        "late_information": _late_information(conn, referral_id, released),
        "completeness": _completeness(sections, enquiries),
    }


def _info(conn: Conn, referral_id: str) -> dict[str, Any] | None:
    row = conn.execute("SELECT info FROM referral_info WHERE referral_id = ?", (referral_id,)).fetchone()
    info: dict[str, Any] | None = json.loads(row[0]) if row else None
    return info


def _decision_clock(
    conn: Conn, referral_id: str, received: int | None, now_us: int, clock: WorkingHours
) -> dict[str, Any]:
    """The one-working-day decision (DOMAIN.md, "Decision"): due by the end of the working day after the
    contact was received; overdue if the first outcome came after that, or none has come by now."""
    if received is None:
        return {"decision_due": None, "decision_overdue": None}
    due = clock.decision_due_us(received)
    row = conn.execute(
        "SELECT min(decided_at) FROM outcomes WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    first = row[0] if row else None
    return {"decision_due": iso(due), "decision_overdue": (first if first is not None else now_us) > due}


def _feedback(decision: dict[str, Any] | None, events: list[query.Event]) -> dict[str, Any] | None:
    """The latest word on telling the referrer the outcome: a REFERRER_FEEDBACK record, or the outcome's."""
    told = [e for e in events if e.kind == "REFERRER_FEEDBACK" and e.feedback]
    if told:
        latest = told[-1]
        return {**json.loads(latest.feedback or "{}"), "recorded_at": iso(latest.decided_at)}
    if decision and decision["referrer_feedback"]:
        return {**decision["referrer_feedback"], "recorded_at": decision["decided_at"]}
    return None


def _consents(conn: Conn, referral_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT subject_ref, party, kind, scope, gillick_competent, categories, services, ground,"
        " family_informed, not_informed_reason, reason, decided_by, recorded_at FROM consents"
        " WHERE referral_id = ? ORDER BY recorded_at, consent_id",
        (referral_id,),
    )
    keys = ("subject_ref", "party", "kind", "scope", "gillick_competent", "categories", "services")
    out = []
    for row in rows:
        item = dict(zip(keys, row[:7], strict=True))
        item["gillick_competent"] = None if row[4] is None else bool(row[4])
        item["categories"], item["services"] = json.loads(row[5]), json.loads(row[6])
        item["ground"] = row[7]
        item["family_informed"] = None if row[8] is None else bool(row[8])
        item["not_informed_reason"] = row[9]
        item.update(reason=row[10], decided_by=row[11], recorded_at=iso(row[12]))
        out.append(item)
    return out


def _late_information(conn: Conn, referral_id: str, released: list[dict[str, Any]]) -> dict[str, Any]:
    """Late information (DOMAIN.md): returns released after the case's decision, which must reach the
    screening desk marked as late so the decision can be revisited. Those that came after the latest
    outcome await review; a later outcome is the revisited decision."""
    late = [s for s in released if s["late"]]
    row = conn.execute(
        "SELECT max(decided_at) FROM outcomes WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    latest = row[0] if row else None
    # The broker's late flag first: it says when the broker first saw the return, whenever the agency made
    # it; a return without the flag (released before releases carried one) by when it was made.
    seen = query.late_since(conn, referral_id)
    awaiting = [
        s
        for s in late
        if latest is not None
        and (seen[s["source_msg_id"]] >= latest if s["source_msg_id"] in seen else s["created_us"] > latest)
    ]
    return {"since_decision": bool(awaiting), "awaiting_review": len(awaiting), "sections": len(late)}


def _sections(conn: Conn, referral_id: str, late: set[str]) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT source_msg_id, category, subject_ref, agency, status, payload, reason, rule_id, created_at"
        " FROM sections WHERE referral_id = ? ORDER BY agency, category, subject_ref, source_msg_id",
        (referral_id,),
    )
    keys = ("source_msg_id", "category", "subject_ref", "agency", "status", "payload", "reason", "rule_id")
    out = []
    for row in rows:
        item = dict(zip(keys, row[:8], strict=True))
        item["payload"] = json.loads(item["payload"]) if item["payload"] else None
        item["created_at"] = iso(row[8])
        item["created_us"] = row[8]
        item["late"] = item["source_msg_id"] in late
        out.append(item)
    return out


def _by_agency(sections: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    keys = ("category", "subject_ref", "payload", "created_at", "source_msg_id", "late")
    for s in sections:
        if s["status"] == "RELEASED":
            out.setdefault(s["agency"], []).append({k: s[k] for k in keys})
    return out


def _subjects(
    conn: Conn,
    referral_id: str,
    roles: dict[str, str],
    refs: list[dict[str, Any]],
    events: list[query.Event],
) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT subject_ref, agency, method, confidence FROM matches WHERE referral_id = ?"
        " ORDER BY subject_ref, agency",
        (referral_id,),
    )
    subjects: dict[str, dict[str, Any]] = {
        ref: {"subject_ref": ref, "role": role, "matches": []} for ref, role in sorted(roles.items())
    }
    for ref, agency, method, confidence in rows:
        entry = subjects.setdefault(ref, {"subject_ref": ref, "role": None, "matches": []})
        entry["matches"].append({"agency": agency, "method": method, "confidence": round(confidence, 3)})
    _markers(subjects, refs, events)
    identifiers = conn.execute(
        "SELECT subject_ref, payload FROM sections WHERE referral_id = ? AND status = 'RELEASED' AND"
        " (category = 'identity' OR category LIKE 'identifier^_%' ESCAPE '^') ORDER BY source_msg_id",
        (referral_id,),
    )
    for ref, payload in identifiers:
        found = json.loads(payload).get("identifiers") or []
        ids = subjects.setdefault(ref, {"subject_ref": ref, "role": None, "matches": []})
        ids.setdefault("identifiers", [])
        for i in found:
            pair = {"scheme": i["scheme"], "value": i["value"]}
            if pair not in ids["identifiers"]:
                ids["identifiers"].append(pair)
    return list(subjects.values())


def _markers(
    subjects: dict[str, dict[str, Any]], refs: list[dict[str, Any]], events: list[query.Event]
) -> None:
    """Each subject's unborn status, mother, confidential-address marker (the referral's, then each
    CONFIDENTIAL_ADDRESS decision in turn) and, for a subject added mid-way, when."""
    for r in refs:
        entry = subjects.get(r["subject_ref"])
        if entry is not None:
            entry["unborn"] = bool(r.get("unborn"))
            entry["mother_subject_ref"] = r.get("mother_subject_ref")
            entry["confidential_address"] = bool(r.get("confidential_address"))
    for e in events:
        entry = subjects.get(e.subject_ref or "")
        if entry is None:
            continue
        if e.kind == "SUBJECT_ADDED":
            entry.update(unborn=e.unborn, added_at=iso(e.decided_at))
            entry.setdefault("mother_subject_ref", None)
            entry.setdefault("confidential_address", False)
        elif e.kind == "CONFIDENTIAL_ADDRESS":
            entry["confidential_address"] = not e.marker_lifted


def _enquiries(conn: Conn, referral_id: str, now_us: int) -> list[dict[str, Any]]:
    return [
        {
            "enquiry_id": e.enquiry_id,
            "agency": e.agency,
            "categories": json.loads(e.categories),
            "purpose": e.purpose,
            "sent_at": iso(e.sent_at),
            "deadline": iso(e.deadline),
            "answered_at": iso(e.answered_at) if e.answered_at is not None else None,
            "outstanding": e.answered_at is None,
            "breached": e.breached,
        }
        for e in query.enquiries(conn, referral_id, now_us)
    ]


def _rag_history(conn: Conn, referral_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT rag_from, rag_to, reason, decided_by, decided_at FROM rag_history"
        " WHERE referral_id = ? ORDER BY decided_at, decision_id",
        (referral_id,),
    )
    return [{"from": f, "to": t, "reason": r, "by": b, "at": iso(at)} for f, t, r, b, at in rows]


def _decision(conn: Conn, referral_id: str) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT outcome, reason, decided_by, decided_at, feedback FROM outcomes"
        " WHERE referral_id = ? ORDER BY decided_at DESC, decision_id DESC LIMIT 1",
        (referral_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "outcome": row[0],
        "reason": row[1],
        "decided_by": row[2],
        "decided_at": iso(row[3]),
        "referrer_feedback": json.loads(row[4]) if row[4] else None,
    }


def _completeness(sections: list[dict[str, Any]], enquiries: list[dict[str, Any]]) -> dict[str, Any]:
    """What was asked and where it stands: enquiries ``answered`` and ``outstanding``, sections
    ``withheld`` from this subscriber by the agreement, and sections held for ``review``. A withheld
    section is an answer the agreement keeps from this desk, not a gap: ``complete`` is true once every
    enquiry is answered and nothing waits for a review, whatever is withheld."""
    answered = sum(1 for e in enquiries if not e["outstanding"])
    released = sum(1 for s in sections if s["status"] == "RELEASED")
    review = sum(1 for s in sections if s["status"] == "REVIEW")
    withheld = len(sections) - released - review
    outstanding = len(enquiries) - answered
    return {
        "answered": answered,
        "withheld": withheld,
        "outstanding": outstanding,
        "review": review,
        "complete": bool(enquiries) and outstanding == 0 and review == 0,
        # The earlier counts, for readers written against them.
        "enquiries_answered": answered,
        "enquiries_total": len(enquiries),
        "sections_released": released,
        "sections_withheld": len(sections) - released,
    }


def timeline(conn: Conn, referral_id: str, released: list[dict[str, Any]]) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    for s in released:
        for i in _items(s["payload"] or {}):
            when = next((str(i[f])[:10] for f in _DATE_FIELDS if i.get(f)), None)
            if when is None:
                continue
            what = next((str(i[f]) for f in _LABEL_FIELDS if i.get(f)), s["category"])
            events.append(
                {
                    "date": when,
                    "agency": s["agency"],
                    "category": s["category"],
                    "subject_ref": s["subject_ref"],
                    "kind": i.get("kind"),
                    "what": what,
                }
            )
    for r in _rag_history(conn, referral_id):
        events.append(
            {
                "date": r["at"][:10],
                "agency": "mash",
                "category": "rag",
                "subject_ref": "",
                "kind": "FACT",
                "what": f"RAG {r['from'] or '-'} -> {r['to']}: {r['reason']}",
            }
        )
    decision = _decision(conn, referral_id)
    if decision:
        events.append(
            {
                "date": decision["decided_at"][:10],
                "agency": "mash",
                "category": "decision",
                "subject_ref": "",
                "kind": "FACT",
                "what": f"{decision['outcome']}: {decision['reason']}",
            }
        )
    for e in query.events(conn, referral_id):
        what = _EVENT_WHAT[e.kind]
        if e.kind == "CONFIDENTIAL_ADDRESS" and e.marker_lifted:
            what = "confidential-address marker lifted"
        events.append(
            {
                "date": iso(e.decided_at)[:10],
                "agency": "mash",
                "category": e.kind.lower(),
                "subject_ref": e.subject_ref or "",
                "kind": "FACT",
                "what": f"{what}: {e.reason}" if e.reason else what,
            }
        )
    return sorted(events, key=lambda e: (e["date"], e["agency"], e["category"], e["what"]))


_EVENT_WHAT = {
    "STRATEGY_DISCUSSION": "strategy discussion convened",
    "CONFIDENTIAL_ADDRESS": "confidential-address marker set",
    "SUBJECT_ADDED": "subject added to the case",
    "REFERRER_FEEDBACK": "referrer feedback recorded",
}
