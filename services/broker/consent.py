"""Consent per person, with scope (Consent v2; a v1 record, with no subject, is the whole family's).

Consent belongs to a person, not a referral. A person's own record decides the sections about them: an
adult's, a parent's, or a young person's judged Gillick-competent (case by case, not by age). Sections
about a child without a competent record of their own, and referral-wide sections, need the parents' and
carers' records: a refusal by any one of them is respected and recorded against that parent; else an
agreement by any of them opens it; else it is awaited. A family-wide record counts for everyone without a
record of their own in its scope. Agreement to early help (EARLY_HELP_SERVICE) is what opens early help;
a data-sharing permission (DATA_SHARING) naming categories or services narrows it. A safeguarding override
or a decision not to seek consent shares without consent for safeguarding: it never opens early help, and
what it records is the case's para 18(2) ground and whether the family was told.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jigsaw.bus.store import Tx
from jigsaw.errors import PayloadInvalid
from services.broker import state
from services.broker.decide import Sharing

KINDS = {
    "CONSENT_GIVEN": "GIVEN",
    "CONSENT_REFUSED": "REFUSED",
    "CONSENT_WITHDRAWN": "WITHDRAWN",
    "NOT_SOUGHT_RISK_OF_HARM": "NOT_SOUGHT",
    "SAFEGUARDING_OVERRIDE": "OVERRIDE",
}
# The records that say what a person wants; the others are the MASH's decisions to share without consent.
_PERSONS_WORD = ("GIVEN", "REFUSED", "WITHDRAWN")
_REFUSALS = ("REFUSED", "WITHDRAWN")
EARLY_HELP_SERVICE, DATA_SHARING = "EARLY_HELP_SERVICE", "DATA_SHARING"
# A scope this reader does not know still refuses; it never opens anything.
_SCOPES = (EARLY_HELP_SERVICE, DATA_SHARING, "UNKNOWN")
_CHILD_ROLES = ("CHILD", "SIBLING")
_PARENT_ROLES = ("PARENT", "CARER")
_PARENT_PARTIES = ("PARENT_WITH_PR", "CARER")


def record(tx: Tx, referral_id: str, msg_id: str, body: dict[str, Any]) -> str:
    """Apply one consent record; returns its state (GIVEN, REFUSED, WITHDRAWN, NOT_SOUGHT or OVERRIDE)."""
    kind = KINDS.get(body["kind"])
    if kind is None:
        raise PayloadInvalid(f"unknown consent kind {body['kind']}")
    person = body.get("subject_ref") or ""
    if kind in _PERSONS_WORD:
        tx.execute(
            "INSERT OR REPLACE INTO consents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                referral_id,
                person,
                body["scope"],
                kind,
                body.get("party") or "UNKNOWN",
                body.get("gillick_competent"),
                json.dumps(sorted(body.get("categories") or [])),
                json.dumps(sorted(body.get("services") or [])),
                msg_id,
            ),
        )
    state.set_basis(
        tx, referral_id, body.get("ground"), body["family_informed"], body.get("not_informed_reason")
    )
    state.set_consent(tx, referral_id, kind, body["family_informed"])
    return kind


@dataclass(frozen=True)
class _Record:
    person: str
    scope: str
    state: str
    party: str
    gillick: bool | None
    categories: frozenset[str]
    services: frozenset[str]


@dataclass(frozen=True)
class PersonConsent:
    """What decides one section: its state, whose record it is ('' = the family's), any narrowing."""

    state: str = "NONE"
    by: str = ""
    sharing: Sharing | None = None

    @property
    def note(self) -> str:
        return f"{self.state} by {self.by}" if self.by else self.state


class ConsentBook:
    """One referral's consent records and people, read once per evaluation."""

    def __init__(self, records: list[_Record], subjects: dict[str, tuple[str | None, bool]]) -> None:
        self._records = {(r.person, r.scope): r for r in records}
        self._subjects = subjects
        self._cache: dict[str, PersonConsent] = {}
        parents = {s for s, (role, _) in subjects.items() if role in _PARENT_ROLES}
        parents |= {r.person for r in records if r.person and r.party in _PARENT_PARTIES}
        self._parents = sorted(parents) or [""]

    def for_subject(self, subject_ref: str) -> PersonConsent:
        found = self._cache.get(subject_ref)
        if found is None:
            found = self._cache[subject_ref] = self._resolve(self._deciders(subject_ref))
        return found

    def _deciders(self, subject_ref: str) -> list[str]:
        if not subject_ref:
            return self._parents
        own = [r for (p, _), r in self._records.items() if p == subject_ref]
        role, unborn = self._subjects.get(subject_ref, (None, False))
        child = (
            unborn or role in _CHILD_ROLES or (role is None and any(r.party == "YOUNG_PERSON" for r in own))
        )
        if child and not any(r.gillick for r in own):
            return self._parents
        return [subject_ref]

    def _effective(self, person: str, scope: str) -> _Record | None:
        own = self._records.get((person, scope))
        return own if own is not None else self._records.get(("", scope))

    def _resolve(self, people: list[str]) -> PersonConsent:
        views = [rec for p in people for scope in _SCOPES if (rec := self._effective(p, scope))]
        for rec in views:
            if rec.state in _REFUSALS:
                return PersonConsent(rec.state, rec.person)
        agreed = [r for r in views if r.scope == EARLY_HELP_SERVICE and r.state == "GIVEN"]
        if not agreed:
            return PersonConsent()
        return PersonConsent("GIVEN", agreed[0].person, _narrowed(views))


def _narrowed(views: list[_Record]) -> Sharing | None:
    """The data-sharing permissions' scope: what every permission that names categories or services allows."""
    cats: frozenset[str] | None = None
    services: frozenset[str] | None = None
    for r in views:
        if r.scope != DATA_SHARING or r.state != "GIVEN":
            continue
        if r.categories:
            cats = r.categories if cats is None else cats & r.categories
        if r.services:
            services = r.services if services is None else services & r.services
    return None if cats is None and services is None else Sharing(cats, services)


def book(tx: Tx, referral_id: str) -> ConsentBook:
    rows = tx.execute(
        "SELECT subject_ref, scope, state, party, gillick, categories, services FROM consents "
        "WHERE referral_id = ?",
        (referral_id,),
    )
    records = [
        _Record(
            p,
            scope,
            st,
            party,
            None if g is None else bool(g),
            frozenset(json.loads(c)),
            frozenset(json.loads(s)),
        )
        for p, scope, st, party, g, c, s in rows
    ]
    return ConsentBook(records, state.subjects(tx, referral_id))
