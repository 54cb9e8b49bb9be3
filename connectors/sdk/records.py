"""Record models every agency needs: its own view of who the person is (``identity``) and whom to contact
(``contact``). An agency's connector subclasses them to name its system, or uses :func:`identity_records`.

Field names are the payload's (schemas/payload/Identity.v1.avsc and Contact.v1.avsc); a query or export
that names its columns otherwise maps them (``forename AS given_names``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AliasChoices, BeforeValidator, Field

from connectors.sdk.base import SourceRecord
from connectors.sdk.fields import Date, JsonList, OptBool, OptDate, OptStr

NameType = Literal["LEGAL", "PREFERRED", "KNOWN_AS", "ALIAS", "PREVIOUS", "BIRTH", "OTHER"]
IdentifierScheme = Literal["NHS", "UPN", "PNC", "NI", "COUNCIL_ID", "YOT_ID", "OTHER"]
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


class Identifier(UkSourceRecord):
    list_field: ClassVar[str] = "identifiers"

    scheme: IdentifierScheme
    value: str
    issuer: OptStr = None
    verified: bool = False
    valid_from: Date
    valid_to: OptDate = None


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
    """Known or not, and the professional contact: all that is shared at screening."""

    list_field: ClassVar[str] = "contacts"

    known: bool = True
    agency: str
    currently_open: OptBool = None
    contact_team: OptStr = None
    contact_role: OptStr = None
    contact_phone: OptStr = None  # a team's number, never a person's own
    contact_email: OptStr = None
    last_involvement: OptDate = None


def identity_records(source_system: str) -> dict[str, type[SourceRecord]]:
    """The four ``identity`` records keys, each a subclass naming ``source_system`` as its source."""
    bases: dict[str, type[UkSourceRecord]] = {
        "identity.names": Name,
        "identity.details": Details,
        "identity.identifiers": Identifier,
        "identity.addresses": Address,
    }
    return {
        key: type(base.__name__, (base,), {"source_system": source_system, "__module__": __name__})
        for key, base in bases.items()
    }
