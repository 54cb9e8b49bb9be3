"""A person the intake seals: their identity, one section per identifier scheme, and their addresses.

Identity v2 carries names, details and relationships only. Each identifier scheme travels as its own
category (``identifier_nhs``, ``identifier_upn``, ``identifier_pnc``, ``identifier_local``), so the broker
releases each by role (the UPN is for education use only; DfE UPN guidance), and addresses as ``address``,
a locating category withheld under a confidential-address marker unless a rule allows it.

An unborn child has no name, date of birth or NHS number yet: the identity says ``unborn`` with the
expected date of delivery, and names the mother (a subject of the same case) through whom agencies match.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date
from typing import Any

from jigsaw.wire.envelope import SectionInput

SOURCE = "mash intake"
# API field -> (category, Identifiers.v1 scheme).
SCHEMES: dict[str, tuple[str, str]] = {
    "nhs": ("identifier_nhs", "NHS"),
    "upn": ("identifier_upn", "UPN"),
    "pnc": ("identifier_pnc", "PNC"),
    "local": ("identifier_local", "COUNCIL_ID"),
}
CHILD_ROLES = frozenset({"CHILD", "SIBLING"})


@dataclass(frozen=True)
class SubjectIn:
    subject_ref: str
    role: str
    given_names: str | None = None
    family_name: str | None = None
    dob: date | None = None
    postcode: str | None = None
    nhs: str | None = None
    upn: str | None = None
    pnc: str | None = None
    local: str | None = None
    address_lines: tuple[str, ...] = ()
    town: str | None = None
    gender: str = "NOT_STATED"
    unborn: bool = False
    expected_date_of_delivery: date | None = None
    mother_subject_ref: str | None = None
    confidential_address: bool = False

    def _item(self, kind: str = "FACT") -> dict[str, Any]:
        return {"kind": kind, "source": SOURCE, "recorded_on": date.today(), "source_ref": None}

    def ref(self) -> dict[str, Any]:
        """This subject in the referral's clear body (Referral.v2 SubjectRef): no personal data."""
        return {
            "subject_ref": self.subject_ref,
            "role": self.role,
            "unborn": self.unborn,
            "mother_subject_ref": self.mother_subject_ref,
            "confidential_address": self.confidential_address,
        }

    def identity(self) -> dict[str, Any]:
        """Identity v2: names (none for an unborn child not yet named), details, and for an unborn child
        the relationship to the mother."""
        names = []
        if self.given_names or self.family_name:
            names.append(
                {
                    **self._item(),
                    "name_type": "LEGAL",
                    "given_names": self.given_names or "",
                    "family_name": self.family_name or "",
                    "valid_from": None,
                    "valid_to": None,
                }
            )
        details = {
            **self._item(),
            "date_of_birth": self.dob,
            "dob_estimated": False,
            "unborn": self.unborn,
            "expected_date_of_delivery": self.expected_date_of_delivery,
            "gender": self.gender,
        }
        relationships = []
        if self.mother_subject_ref:
            relationships.append(
                {
                    **self._item(),
                    "related_subject_ref": self.mother_subject_ref,
                    "related_person_name": None,
                    "relationship": "MOTHER",
                    "lives_with_subject": True,
                    "parental_responsibility": True,
                    "valid_from": None,
                    "valid_to": None,
                }
            )
        return {
            "subject_ref": self.subject_ref,
            "names": names,
            "details": [details],
            "relationships": relationships,
        }

    def identifiers(self) -> dict[str, dict[str, Any]]:
        """One Identifiers payload per scheme given, by category."""
        today = date.today()
        out = {}
        for field, (category, scheme) in SCHEMES.items():
            value = getattr(self, field)
            if value:
                item = {
                    **self._item(),
                    "scheme": scheme,
                    "value": value,
                    "issuer": None,
                    "verified": False,
                    "valid_from": today,
                    "valid_to": None,
                }
                out[category] = {"subject_ref": self.subject_ref, "identifiers": [item]}
        return out

    def address(self) -> dict[str, Any] | None:
        if not (self.postcode or self.address_lines):
            return None
        item = {
            **self._item(),
            "address_type": "HOME",
            "lines": list(self.address_lines),
            "town": self.town,
            "postcode": self.postcode,
            "uprn": None,
            "no_fixed_abode": False,
            "valid_from": None,
            "valid_to": None,
        }
        return {"subject_ref": self.subject_ref, "addresses": [item]}

    def sections(
        self, categories: Collection[str] | None = None, *, for_matching: bool = False
    ) -> list[SectionInput]:
        """The identity, each identifier and the address, limited to ``categories`` where given. For an
        agency's matching (``for_matching``), a confidential address is left out: the enquiry would itself
        tell the agency where a person who has fled now lives."""
        out = [SectionInput("identity", self.identity())]
        for category, payload in self.identifiers().items():
            if categories is None or category in categories:
                out.append(SectionInput(category, payload))
        address = self.address()
        wanted = categories is None or "address" in categories
        if address is not None and wanted and not (for_matching and self.confidential_address):
            out.append(SectionInput("address", address))
        return out
