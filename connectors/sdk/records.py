"""Record models every agency needs: its own view of who the person is (``identity``: names and details),
the identifiers it holds, one scheme to a category (``identifier_nhs``, ``identifier_upn``,
``identifier_pnc``, ``identifier_local``), the addresses it holds (``address``), whom to contact
(``contact``), and any confidential-address marker it keeps (:data:`MARKERS`). An agency's connector
subclasses them to name its system, or uses :func:`identity_records`.

Field names are the payload's (schemas/payload/Identity.v2, Identifiers.v1, Addresses.v1 and Contact.v1);
a query or export that names its columns otherwise maps them (``forename AS given_names``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BeforeValidator, Field, model_validator

from connectors.sdk.base import MARKERS as MARKERS  # the markers' records key, beside their model
from connectors.sdk.base import SourceRecord
from connectors.sdk.fields import Date, JsonList, OptBool, OptDate, OptStr
from connectors.sdk.identifiers import normalise_nhs, normalise_pnc, normalise_upn

NameType = Literal["LEGAL", "PREFERRED", "KNOWN_AS", "ALIAS", "PREVIOUS", "BIRTH", "OTHER"]
IdentifierScheme = Literal["NHS", "UPN", "PNC", "NI", "COUNCIL_ID", "YOT_ID", "OTHER"]
LocalScheme = Literal["NI", "COUNCIL_ID", "YOT_ID", "OTHER"]
AddressType = Literal["HOME", "TEMPORARY", "CORRESPONDENCE", "PLACEMENT", "PREVIOUS", "OTHER"]

_GENDERS = {"M": "MALE", "F": "FEMALE", "U": "NOT_KNOWN", "X": "OTHER", "": "NOT_KNOWN"}


def _gender(value: Any) -> Any:
    """Systems store M/F/U codes or words; the payload wants the Identity enum."""
    if value is None:
        return "NOT_KNOWN"
    if isinstance(value, str):
        code = value.strip().upper()
        return _GENDERS.get(code, code)
    return value


Gender = Annotated[Literal["MALE", "FEMALE", "OTHER", "NOT_STATED", "NOT_KNOWN"], BeforeValidator(_gender)]


class UkSourceRecord(SourceRecord):
    """A source record whose ``recorded_on`` may also be a UK ``DD/MM/YYYY`` date (CSV exports)."""

    recorded_on: Date


class Name(UkSourceRecord):
    list_field: ClassVar[str] = "names"

    name_type: NameType = "LEGAL"
    given_names: str
    family_name: str
    valid_from: OptDate = None
    valid_to: OptDate = None


class Details(UkSourceRecord):
    list_field: ClassVar[str] = "details"

    date_of_birth: OptDate = Field(default=None, validation_alias=AliasChoices("date_of_birth", "dob"))
    dob_estimated: bool = False
    unborn: bool = False
    expected_date_of_delivery: OptDate = None
    gender: Gender = "NOT_KNOWN"
    ethnicity: OptStr = None
    first_language: OptStr = None
    interpreter_required: OptBool = None
    date_of_death: OptDate = None


_CHECKS: dict[str, Callable[[str], str | None]] = {
    "NHS": normalise_nhs,
    "UPN": normalise_upn,
    "PNC": normalise_pnc,
}


class Identifier(UkSourceRecord):
    """One identifier, normalised: an NHS number, UPN or PNC ID that fails its check digit keeps the
    value as held (without spaces) and is sent as not verified, whatever the source says."""

    list_field: ClassVar[str] = "identifiers"

    scheme: IdentifierScheme
    value: str
    issuer: OptStr = None
    verified: bool = False
    valid_from: Date
    valid_to: OptDate = None

    @model_validator(mode="after")
    def _normalised(self) -> Identifier:
        check = _CHECKS.get(self.scheme)
        compact = "".join(self.value.split())
        canonical = check(compact) if check else compact
        object.__setattr__(self, "value", canonical or compact)
        if canonical is None:
            object.__setattr__(self, "verified", False)
        return self


class NhsNumber(Identifier):
    """``identifier_nhs``: for health and care."""

    scheme: Literal["NHS"] = "NHS"


class Upn(Identifier):
    """``identifier_upn``: the unique pupil number, for education use only (DfE UPN guidance)."""

    scheme: Literal["UPN"] = "UPN"


class PncId(Identifier):
    """``identifier_pnc``: for police and probation, and children's social care where it must act."""

    scheme: Literal["PNC"] = "PNC"


class LocalId(Identifier):
    """``identifier_local``: a council, youth justice or housing id, an NI number or a case reference."""

    scheme: LocalScheme


# Identifier category -> its model; a row of another scheme under a category fails validation, so that an
# NHS number can never travel as a local id.
IDENTIFIERS: dict[str, type[Identifier]] = {
    "identifier_nhs": NhsNumber,
    "identifier_upn": Upn,
    "identifier_pnc": PncId,
    "identifier_local": LocalId,
}


class Address(UkSourceRecord):
    list_field: ClassVar[str] = "addresses"

    address_type: AddressType = "HOME"
    lines: JsonList = Field(default_factory=list, validation_alias=AliasChoices("lines", "address_lines"))
    town: OptStr = None
    postcode: OptStr = None
    uprn: OptStr = None
    no_fixed_abode: bool = False
    valid_from: OptDate = None
    valid_to: OptDate = None


class Contact(UkSourceRecord):
    """Known or not, and the professional contact: all that is shared at screening. Whether it travels
    as ``contact`` or as a scoped ``contact_<category>`` is the connector configuration's ``contacts``."""

    list_field: ClassVar[str] = "contacts"

    known: bool = True
    agency: str
    currently_open: OptBool = None
    contact_team: OptStr = None
    contact_role: OptStr = None
    contact_phone: OptStr = None  # a team's number, never a person's own
    contact_email: OptStr = None
    last_involvement: OptDate = None


class ConfidentialAddress(UkSourceRecord):
    """A confidential-address marker (a refuge, a fled victim): PERSON marks the person, so that every
    agency's locating details about them are withheld; ADDRESS marks only the addresses this agency holds
    (a refuge or temporary accommodation address). Never a payload item: it goes in the return's body."""

    list_field: ClassVar[str] = MARKERS

    scope: Literal["PERSON", "ADDRESS"] = "PERSON"


def identity_records(source_system: str, *identifiers: str) -> dict[str, type[SourceRecord]]:
    """``identity.names``, ``identity.details`` and ``address``, and each identifier category named (e.g.
    ``identifier_pnc``), each a subclass naming ``source_system`` as its source."""
    bases: dict[str, type[UkSourceRecord]] = {
        "identity.names": Name,
        "identity.details": Details,
        **{category: IDENTIFIERS[category] for category in identifiers},
        "address": Address,
    }
    return {
        key: type(base.__name__, (base,), {"source_system": source_system, "__module__": __name__})
        for key, base in bases.items()
    }
