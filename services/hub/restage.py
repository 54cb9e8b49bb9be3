"""What the front door needs, from its own case store, to ask the agencies again when a case moves on:
when a strategy discussion is convened, and when an unrated contact is first rated, each agency is asked
for what it publishes beyond the screening categories, for the new stage's purpose (an unrated contact was
asked only whether it is known; without this, a strategy discussion on it would never have the s47 picture).

The people are the case's own, as the front door sealed them (the referral's and those added since) and as
the broker released them back to its subscriber: never an agency's return about them. The enquiries
already recorded here (their ids are derived from the referral, agency and purpose) are not sent again.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from jigsaw.bus.store import Conn
from services.hub import query
from services.hub.subjects import SCHEMES, SubjectIn

# The front door's own sections about a person: the referral's and each SUBJECT_ADDED decision's (every
# agency return is in ``returns``).
_OWN = (
    "SELECT subject_ref, category, payload FROM sections WHERE referral_id = :r AND status = 'RELEASED'"
    " AND (category IN ('identity', 'address') OR category LIKE 'identifier^_%' ESCAPE '^')"
    " AND source_msg_id NOT IN (SELECT source_msg_id FROM returns WHERE referral_id = :r)"
    " ORDER BY source_msg_id"
)
_FIELD = {category: field for field, (category, _) in SCHEMES.items()}


def _day(value: Any) -> date | None:
    return date.fromisoformat(str(value)[:10]) if value else None


def _identity(payload: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in payload.get("names") or []:
        out.update(given_names=name.get("given_names") or None, family_name=name.get("family_name") or None)
        break
    for d in payload.get("details") or []:
        out.update(
            dob=_day(d.get("date_of_birth")),
            gender=d.get("gender") or "NOT_STATED",
            unborn=bool(d.get("unborn")),
            expected_date_of_delivery=_day(d.get("expected_date_of_delivery")),
        )
        break
    mothers = [r for r in payload.get("relationships") or [] if r.get("relationship") == "MOTHER"]
    if mothers:
        out["mother_subject_ref"] = mothers[0].get("related_subject_ref")
    return out


def _address(payload: dict[str, Any]) -> dict[str, Any]:
    for a in payload.get("addresses") or []:
        return {
            "address_lines": tuple(a.get("lines") or ()),
            "town": a.get("town"),
            "postcode": a.get("postcode"),
        }
    return {}


def case_people(conn: Conn, referral_id: str) -> list[SubjectIn]:
    """The case's subjects whose identity the front door holds, as it sealed them, with each one's
    confidential-address marker as it stands (so an enquiry never carries a marked person's address)."""
    roles = query.case_subjects(conn, referral_id) or {}
    fields: dict[str, dict[str, Any]] = {}
    for ref, category, payload in conn.execute(_OWN, {"r": referral_id}):
        found = json.loads(payload or "{}")
        person = fields.setdefault(ref, {})
        if category == "identity":
            person.update(_identity(found))
        elif category == "address":
            person.update(_address(found))
        elif category in _FIELD:
            values = [i.get("value") for i in found.get("identifiers") or [] if i.get("value")]
            if values:
                person[_FIELD[category]] = values[0]
    marked = _markers(conn, referral_id)
    return [
        SubjectIn(ref, roles.get(ref, "OTHER"), confidential_address=marked.get(ref, False), **fields[ref])
        for ref in sorted(fields)
        if ref in roles
    ]


def _markers(conn: Conn, referral_id: str) -> dict[str, bool]:
    row = conn.execute("SELECT subjects FROM referral_meta WHERE referral_id = ?", (referral_id,)).fetchone()
    marked = {
        s["subject_ref"]: bool(s.get("confidential_address")) for s in json.loads(row[0] if row else "[]")
    }
    for e in query.events(conn, referral_id):
        if e.kind == "CONFIDENTIAL_ADDRESS" and e.subject_ref:
            marked[e.subject_ref] = not e.marker_lifted
    return marked


def immediate_risk(conn: Conn, referral_id: str) -> bool | None:
    """What the referrer said of immediate risk, which keeps the most urgent timescale."""
    row = conn.execute("SELECT info FROM referral_info WHERE referral_id = ?", (referral_id,)).fetchone()
    risk = json.loads(row[0]).get("immediate_risk") if row else None
    return None if risk is None else bool(risk)


def recorded_enquiries(conn: Conn, referral_id: str) -> set[str]:
    """The ids of the referral's enquiries this store has read back."""
    rows = conn.execute("SELECT enquiry_id FROM enquiries WHERE referral_id = ?", (referral_id,))
    return {eid for (eid,) in rows}
