"""What a return holds: the enquiry's subjects as the MASH describes them, the agency's records validated
and grouped into one section per (category, subject), the contacts routed to their scoped categories, and
the confidential-address markers for the return's body.

Each category is released by its own rules, so each travels in its own section: a person's names and
details (``identity``), each identifier scheme (``identifier_nhs`` ...), the addresses (``address``), the
plain screening answer (``contact``) and each scoped one (``contact_<category>``).

A scoped contact also travels in a message of its own (:func:`split_scoped`): the broker cannot drop a
section from the agency's signed message, so a desk refused one would still be told, by the withheld
notice's label, that the person has a contact of that category.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from connectors.sdk.base import MARKERS, Finding, MatchedSubject, SourceRecord, category_of
from connectors.sdk.contacts import PLAIN, ContactRouting, scoped
from connectors.sdk.matching import Subject
from jigsaw.errors import SourceRecordInvalid
from jigsaw.wire.categories import CONTACT_REVEALS, IDENTIFIER_SCHEMES
from jigsaw.wire.envelope import Opened, SectionInput

IDENTIFIER_CATEGORIES = tuple(f"identifier_{s}" for s in IDENTIFIER_SCHEMES)
SCOPED_CONTACTS = tuple(scoped(c) for c in CONTACT_REVEALS)
# Categories whose being held is itself the fact a desk may not know: never named as nothing held.
NEVER_NOTHING_HELD = frozenset((*SCOPED_CONTACTS, "victim_safe_contact"))


def pseudonym(source_id: str) -> str:
    """How a DLQ record names a source record: the agency can hash its own ids to find it; nobody else can."""
    return hashlib.sha256(source_id.encode()).hexdigest()[:12]


def wanted_categories(asked: Iterable[str]) -> list[str]:
    """The categories a return answers for an enquiry's ``asked``: what was asked, and for ``contact``
    every scoped contact too (the same screening answer, split only so that each part is released by its
    own rule). Identifiers and addresses come only when asked for: at screening a MASH asks for neither."""
    wanted = list(dict.fromkeys(asked))
    if PLAIN in wanted:
        wanted += SCOPED_CONTACTS
    return list(dict.fromkeys(wanted))


def lookup_categories(wanted: Iterable[str]) -> list[str]:
    """The records categories to look up: a scoped contact is answered from the agency's contacts."""
    return list(dict.fromkeys(PLAIN if c in SCOPED_CONTACTS else c for c in wanted))


def enquiry_subjects(opened: Opened) -> list[Subject]:
    """Each subject of an enquiry (one per identity section), with the identifiers and address the MASH
    sent for them in their own sections; an Identity v1 section still carries its own."""
    extra: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for s in opened.sections:
        if s.payload is None:
            continue
        if s.category in IDENTIFIER_CATEGORIES:
            extra.setdefault(s.subject_ref, {}).setdefault("identifiers", []).extend(
                s.payload.get("identifiers", [])
            )
        elif s.category == "address":
            extra.setdefault(s.subject_ref, {}).setdefault("addresses", []).extend(
                s.payload.get("addresses", [])
            )
    return [
        subject_from_identity(s.payload, **extra.get(s.subject_ref, {}))
        for s in opened.sections
        if s.category == "identity" and s.payload is not None
    ]


def subject_from_identity(
    payload: Mapping[str, Any],
    identifiers: Sequence[Mapping[str, Any]] = (),
    addresses: Sequence[Mapping[str, Any]] = (),
) -> Subject:
    names = payload.get("names") or [{}]
    details = payload.get("details") or [{}]
    every_address = [*(payload.get("addresses") or []), *addresses] or [{}]
    ids = {i["scheme"]: i["value"] for i in [*(payload.get("identifiers") or []), *identifiers]}
    return Subject(
        subject_ref=payload["subject_ref"],
        given_names=names[0].get("given_names", ""),
        family_name=names[0].get("family_name", ""),
        dob=details[0].get("date_of_birth"),
        postcode=every_address[0].get("postcode"),
        nhs=ids.get("NHS"),
        upn=ids.get("UPN"),
        pnc=ids.get("PNC"),
        ni=ids.get("NI"),
    )


@dataclass
class Return:
    """A return's sections, its markers, and the records that failed validation (for the DLQ)."""

    sections: list[SectionInput] = field(default_factory=list)
    markers: list[dict[str, str]] = field(default_factory=list)
    invalid: list[SourceRecordInvalid] = field(default_factory=list)
    held: set[str] = field(default_factory=set)  # categories with something held, valid or not

    def nothing_held(self, asked: Iterable[str]) -> list[str]:
        """The categories asked for and not held, for the return's clear body. Never a scoped contact nor
        the victim's safe contact: every desk reads the body, so "asked minus held" would tell a desk
        refused ``contact_mental_health`` that one is held, by its absence from this list."""
        return sorted(c for c in set(asked) - NEVER_NOTHING_HELD if c not in self.held)


def split_scoped(
    sections: Sequence[SectionInput],
) -> tuple[list[SectionInput], dict[str, list[SectionInput]]]:
    """The main return's sections, and each scoped contact category's, to travel in a message of its own.

    The agency's signature covers every section's category, so the broker can only release or withhold a
    whole message: a scoped contact sent with the rest would reach a desk refused it as a withheld notice
    labelled with its category, which is the very fact it may not know.
    """
    main: list[SectionInput] = []
    parts: dict[str, list[SectionInput]] = {}
    for s in sections:
        if s.category in SCOPED_CONTACTS:
            parts.setdefault(s.category, []).append(s)
        else:
            main.append(s)
    return main, dict(sorted(parts.items()))


def build_return(
    *,
    agency: str,
    models: Mapping[str, type[SourceRecord]],
    findings: Sequence[Finding],
    markers: Sequence[Finding],
    matched: Sequence[MatchedSubject],
    wanted: Iterable[str],
    contacts: ContactRouting,
) -> Return:
    """Validate each record; group the valid ones into one payload per (category, subject); route each
    subject's contacts; keep only the sections ``wanted``."""
    subjects = {m.source_id: m.subject_ref for m in matched}
    out = Return()
    grouped: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for f, rec in _valid(models, findings, subjects, out):
        out.held.add(f.category)
        grouped.setdefault((f.category, subjects[f.source_id]), {}).setdefault(rec.list_field, []).append(
            rec.item()
        )
    for (category, ref), lists in list(grouped.items()):
        if category == PLAIN:
            del grouped[(category, ref)]
            for routed, items in contacts.route_items(agency, lists.get("contacts", [])).items():
                grouped.setdefault((routed, ref), {}).setdefault("contacts", []).extend(items)
                out.held.add(routed)
    keep = set(wanted)
    out.sections = [
        SectionInput(cat, {"subject_ref": ref, **lists})
        for (cat, ref), lists in sorted(grouped.items())
        if cat in keep
    ]
    found = {
        (subjects[f.source_id], str(rec.item()["scope"])) for f, rec in _valid(models, markers, subjects, out)
    }
    out.markers = [{"subject_ref": ref, "scope": scope} for ref, scope in sorted(found)]
    return out


def _valid(
    models: Mapping[str, type[SourceRecord]],
    findings: Sequence[Finding],
    subjects: Mapping[str, str],
    out: Return,
) -> list[tuple[Finding, SourceRecord]]:
    valid = []
    for f in findings:
        model = models.get(f.source)
        if model is None or f.source_id not in subjects:
            continue
        try:
            valid.append((f, model.model_validate(f.row)))
        except ValidationError as exc:
            out.invalid.append(_invalid(f, exc))
            if f.source != MARKERS:
                out.held.add(category_of(f.source))  # an invalid record is still something held
    return valid


def _invalid(f: Finding, exc: ValidationError) -> SourceRecordInvalid:
    # Field names and messages only: pydantic's "input" would quote the personal data itself.
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
    return SourceRecordInvalid(f"{f.source} record #{pseudonym(f.source_id)}: {fields}")
