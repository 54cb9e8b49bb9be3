"""Flags derived from the combined picture one subscriber may see, each from every agency that holds the
fact, and each fact counted once however many sections record it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from jigsaw.bus.store import Conn
from services.hub import persons

ADULT_ROLES = {"PARENT", "CARER", "HOUSEHOLD_MEMBER", "ALLEGED_PERPETRATOR"}
# A conviction or caution for a sexual offence brings the notification requirements (Sexual Offences Act
# 2003 Part 2): police data alone can show that a person is a sex offender, probation or not.
_SEXUAL_DISPOSALS = {
    "CONVICTION",
    "CAUTION",
    "CONDITIONAL_CAUTION",
    "YOUTH_CAUTION",
    "YOUTH_CONDITIONAL_CAUTION",
}
_SEXUAL_THEMES = {"CSE", "ONLINE_CSA"}
_DRUG_THEMES = {"DRUG_SUPPLY", "COUNTY_LINES", "CUCKOOING"}
_DRUG_PROPERTY = {"CUCKOOING_RISK", "DRUG_ACTIVITY"}
_PARENTAL_MH = ("ADULT_MENTAL_HEALTH", "PERINATAL", "CRISIS")
_SEX_OFFENDER = "sex_offender_in_contact"


def _items(payload: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for v in payload.values() if isinstance(v, list) for i in v if isinstance(i, dict)]


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def incident_id(item: dict[str, Any]) -> str:
    """An incident's own id: its source reference, else the force's incident reference, else what it says
    (so two sections recording one incident, against the victim and the suspect, are one incident)."""
    for field in ("source_ref", "incident_ref"):
        if item.get(field):
            return f"{field}:{item[field]}"
    return "|".join(str(item.get(f)) for f in ("incident_date", "incident_type", "summary"))


class _Found:
    def __init__(self) -> None:
        self.why: dict[str, str] = {}
        self.da_incidents: set[str] = set()
        self.da_case_count = 0
        self.probable: set[str] = set()

    def flag(self, name: str, why: str, *, keep: bool = False) -> None:
        if not (keep and name in self.why):
            self.why[name] = why


def _probation(found: _Found, i: dict[str, Any], today: date) -> None:
    due = _day(i.get("release_date"))
    if due and today <= due <= today + timedelta(days=28):
        found.flag("release_within_28_days", f"an adult linked to the child is due for release on {due}")
    if i.get("registered_sex_offender"):
        found.flag(_SEX_OFFENDER, "a registered sex offender is in contact with the family")


def _police(found: _Found, cat: str, i: dict[str, Any], adult: bool) -> None:
    if cat == "police_convictions" and adult:
        sexual = i.get("offence_category") == "SEXUAL" and i.get("disposal_type") in _SEXUAL_DISPOSALS
        if sexual:
            why = "an adult in contact with the family is convicted or cautioned for a sexual offence"
            found.flag(_SEX_OFFENDER, why, keep=True)
    if cat == "police_intelligence":
        themes = set(i.get("themes", []))
        if adult and i.get("subject_role") == "SUBJECT" and themes & _SEXUAL_THEMES:
            why = "police intelligence links an adult in contact with the family to child sexual abuse"
            found.flag(_SEX_OFFENDER, why, keep=True)
        if themes & _DRUG_THEMES:
            found.flag("drug_supply_address", "the address is linked to drug supply")
    if cat == "police_incidents" and i.get("domestic_abuse") and i.get("child_present"):
        found.da_incidents.add(incident_id(i))


def _one(found: _Found, s: dict[str, Any], roles: dict[str, str], today: date) -> None:
    cat = s["category"]
    adult = roles.get(s["subject_ref"]) in ADULT_ROLES
    for i in _items(s["payload"] or {}):
        if cat == "probation":
            _probation(found, i, today)
        elif cat.startswith("police_"):
            _police(found, cat, i, adult)
        elif cat == "mental_health" and adult and i.get("service") in _PARENTAL_MH:
            found.flag("parental_mental_health", "a parent or carer is known to mental health services")
        elif cat == "housing" and _DRUG_PROPERTY & set(i.get("property_flags", [])):
            found.flag("drug_supply_address", "the address is linked to drug supply")
        elif cat == "domestic_abuse" and i.get("children_present"):
            # One case's own count of incidents in the last 12 months; the same case recorded against the
            # victim and the perpetrator says the same count, so the largest is taken, never the sum.
            found.da_case_count = max(found.da_case_count, int(i.get("incident_count") or 0))


def flags(
    released: list[dict[str, Any]],
    roles: dict[str, str],
    now_us: int,
    conn: Conn | None = None,
    referral_id: str = "",
) -> list[dict[str, Any]]:
    """Flags from the released sections, and with the store (``conn``), from the front door's person
    index: a re-referral within 12 months and a previous child removed."""
    today = datetime.fromtimestamp(now_us / 1e6, UTC).date()
    found = _Found()
    for s in released:
        _one(found, s, roles, today)
    if max(len(found.da_incidents), found.da_case_count) >= 2:
        found.flag("repeat_domestic_abuse_child_present", "repeated domestic abuse with a child present")
    if conn is not None:
        _person_flags(found, conn, referral_id, roles)
    out: list[dict[str, Any]] = []
    for k, v in sorted(found.why.items()):
        probable = k in found.probable
        out.append({"flag": k, "why": v + (PROBABLE if probable else ""), "probable_match": probable})
    return out


PROBABLE = " (on a probable match by name and date of birth, not an NHS number: for a person to confirm)"


def _person_flags(found: _Found, conn: Conn, referral_id: str, roles: dict[str, str]) -> None:
    """The front door's person-index flags; a flag resting only on matches without an NHS number is
    probable (DOMAIN.md, "Matching order"): a person confirms it before it is acted on."""
    again = persons.re_referred(conn, referral_id, roles)
    if again:
        found.flag("re_referral_within_12_months", "a child was referred within the previous 12 months")
        if all(f.probable for f in again):
            found.probable.add("re_referral_within_12_months")
    removed = persons.children_removed(conn, referral_id, roles)
    if removed:
        found.flag("previous_child_removed", "a parent or carer has had a child removed from their care")
        if all(f.probable for f in removed):
            found.probable.add("previous_child_removed")
