"""Renders one subscriber's case view from its store, as of a given time.

Anything that depends on the clock (a breached deadline, a release date within 28 days) is computed here,
at read time, so stored facts never go stale and a rebuilt store renders the same view as the live one.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.hub import query

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
ADULT_ROLES = {"PARENT", "CARER", "HOUSEHOLD_MEMBER", "ALLEGED_PERPETRATOR"}


def iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, UTC).isoformat()


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for v in payload.values() if isinstance(v, list) for i in v if isinstance(i, dict)]


def render(conn: sqlite3.Connection, referral_id: str, now_us: int) -> dict[str, Any] | None:
    case = conn.execute(
        "SELECT rag, outcome, updated_at FROM cases WHERE referral_id = ?", (referral_id,)
    ).fetchone()
    if case is None:
        return None
    meta = conn.execute(
        "SELECT source_type, received_at, concerns, subjects FROM referral_meta WHERE referral_id = ?",
        (referral_id,),
    ).fetchone()
    sections = _sections(conn, referral_id)
    enquiries = _enquiries(conn, referral_id, now_us)
    roles = {s["subject_ref"]: s["role"] for s in json.loads(meta[3])} if meta else {}
    released = [s for s in sections if s["status"] == "RELEASED"]
    return {
        "referral_id": referral_id,
        "rag": case[0],
        "outcome": case[1],
        "updated_at": iso(case[2]),
        "source_type": meta[0] if meta else None,
        "received_at": iso(meta[1]) if meta else None,
        "concerns": json.loads(meta[2]) if meta else [],
        "subjects": _subjects(conn, referral_id, roles),
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
        "flags": flags(released, roles, now_us),
        "timeline": timeline(conn, referral_id, released),
        "rag_history": _rag_history(conn, referral_id),
        "decision": _decision(conn, referral_id),
        "completeness": _completeness(sections, enquiries),
    }


def _sections(conn: sqlite3.Connection, referral_id: str) -> list[dict[str, Any]]:
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
        out.append(item)
    return out


def _by_agency(sections: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for s in sections:
        if s["status"] == "RELEASED":
            out.setdefault(s["agency"], []).append(
                {k: s[k] for k in ("category", "subject_ref", "payload", "created_at", "source_msg_id")}
            )
    return out


def _subjects(conn: sqlite3.Connection, referral_id: str, roles: dict[str, str]) -> list[dict[str, Any]]:
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
    identifiers = conn.execute(
        "SELECT subject_ref, payload FROM sections WHERE referral_id = ? AND"
        " category = 'identity' AND status = 'RELEASED' ORDER BY source_msg_id",
        (referral_id,),
    )
    for ref, payload in identifiers:
        found = json.loads(payload).get("identifiers", [])
        ids = subjects.setdefault(ref, {"subject_ref": ref, "role": None, "matches": []})
        ids.setdefault("identifiers", [])
        for i in found:
            pair = {"scheme": i["scheme"], "value": i["value"]}
            if pair not in ids["identifiers"]:
                ids["identifiers"].append(pair)
    return list(subjects.values())


def _enquiries(conn: sqlite3.Connection, referral_id: str, now_us: int) -> list[dict[str, Any]]:
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


def _rag_history(conn: sqlite3.Connection, referral_id: str) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT rag_from, rag_to, reason, decided_by, decided_at FROM rag_history"
        " WHERE referral_id = ? ORDER BY decided_at, decision_id",
        (referral_id,),
    )
    return [{"from": f, "to": t, "reason": r, "by": b, "at": iso(at)} for f, t, r, b, at in rows]


def _decision(conn: sqlite3.Connection, referral_id: str) -> dict[str, Any] | None:
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
    answered = sum(1 for e in enquiries if not e["outstanding"])
    released = sum(1 for s in sections if s["status"] == "RELEASED")
    return {
        "enquiries_answered": answered,
        "enquiries_total": len(enquiries),
        "sections_released": released,
        "sections_withheld": len(sections) - released,
        "complete": bool(enquiries) and answered == len(enquiries) and released == len(sections),
    }


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def flags(released: list[dict[str, Any]], roles: dict[str, str], now_us: int) -> list[dict[str, str]]:
    """Flags derived from the combined picture this subscriber may see."""
    today = datetime.fromtimestamp(now_us / 1e6, UTC).date()
    found: dict[str, str] = {}
    da_with_child = 0
    for s in released:
        cat, items, adult = (
            s["category"],
            _items(s["payload"] or {}),
            roles.get(s["subject_ref"]) in ADULT_ROLES,
        )
        for i in items:
            due = _day(i.get("release_date"))
            if cat == "probation" and due and today <= due <= today + timedelta(days=28):
                found["release_within_28_days"] = f"an adult linked to the child is due for release on {due}"
            if cat == "probation" and i.get("registered_sex_offender"):
                found["sex_offender_in_contact"] = "a registered sex offender is in contact with the family"
            if (
                cat == "mental_health"
                and adult
                and i.get("service") in ("ADULT_MENTAL_HEALTH", "PERINATAL", "CRISIS")
            ):
                found["parental_mental_health"] = "a parent or carer is known to mental health services"
            if cat == "police_intelligence" and {"DRUG_SUPPLY", "COUNTY_LINES", "CUCKOOING"} & set(
                i.get("themes", [])
            ):
                found["drug_supply_address"] = "the address is linked to drug supply"
            if cat == "housing" and {"CUCKOOING_RISK", "DRUG_ACTIVITY"} & set(i.get("property_flags", [])):
                found["drug_supply_address"] = "the address is linked to drug supply"
            if cat == "police_incidents" and i.get("domestic_abuse") and i.get("child_present"):
                da_with_child += 1
            if cat == "domestic_abuse" and i.get("children_present") and (i.get("incident_count") or 0) >= 2:
                da_with_child += 2
    if da_with_child >= 2:
        found["repeat_domestic_abuse_child_present"] = "repeated domestic abuse with a child present"
    return [{"flag": k, "why": v} for k, v in sorted(found.items())]


def timeline(
    conn: sqlite3.Connection, referral_id: str, released: list[dict[str, Any]]
) -> list[dict[str, Any]]:
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
    return sorted(events, key=lambda e: (e["date"], e["agency"], e["category"], e["what"]))
