"""The API's request and response bodies. Requests are strict: an unknown field is an error, not ignored."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import Path
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    model_validator,
)

Rag = Literal["RED", "AMBER", "GREEN"]
Outcome = Literal[
    "IMMEDIATE_PROTECTION", "STRATEGY_DISCUSSION_S47", "CSC_ASSESSMENT_S17", "EARLY_HELP", "NO_FURTHER_ACTION"
]
_STRICT = ConfigDict(extra="forbid")


def _only_text(value: Any) -> Any:
    # Lax pydantic would read a number as a date; in this API a date is written YYYY-MM-DD.
    if not isinstance(value, str | date):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


def _unique(values: list[Any]) -> list[Any]:
    # Each entry of these lists becomes a message (an enquiry, an assignment): a repeat is a mistake or a
    # flood, and is refused rather than quietly merged.
    seen = [v for i, v in enumerate(values) if v in values[:i]]
    if seen:
        raise ValueError(f"listed more than once: {seen[0]!r}")
    return values


IsoDate = Annotated[date, BeforeValidator(_only_text)]
REFERRAL_ID = r"^R-[0-9a-f]{32}$"  # jigsaw.ids.new_referral_id
MSG_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"  # a UUID: jigsaw.ids
ReferralPath = Annotated[str, Path(pattern=REFERRAL_ID, description="R- and 32 hex digits")]
_Unique = AfterValidator(_unique)
_UNIQUE = {"uniqueItems": True}
_Text = Annotated[str, Field(min_length=1, max_length=2000)]
_Name = Annotated[str, Field(min_length=1, max_length=100)]
# Who did it is the token's named person or system (docs/api.md): a value given here is not recorded.
_Actor = Annotated[_Name | None, Field(description="ignored: the token's name is recorded as the actor")]
_Short = Annotated[str, Field(max_length=100)]
# Which agency types exist is the deployment's roster, known only at run time: a request naming one that
# is not on it is refused when it arrives (see api.writes), so the document says only what one looks like.
AgencyType = Annotated[
    str, Field(min_length=1, max_length=64, description="an agency type of this deployment")
]


# Not "Subject": the SDK and the town have their own, and intake.SubjectIn is what this becomes.
class ReferralSubject(BaseModel):
    """A person the referral is about."""

    model_config = _STRICT
    subject_ref: Annotated[str, Field(pattern=r"^S[0-9]{1,3}$")]
    role: Literal["CHILD", "PARENT", "CARER", "SIBLING", "HOUSEHOLD_MEMBER", "ALLEGED_PERPETRATOR", "OTHER"]
    given_names: _Name
    family_name: _Name
    dob: IsoDate | None = None
    postcode: Annotated[str, Field(max_length=10)] | None = None
    nhs: Annotated[str, Field(pattern=r"^[0-9 ]{10,12}$")] | None = None
    upn: Annotated[str, Field(pattern=r"^[A-Z][0-9]{11}[0-9A-Z]$")] | None = None
    pnc: Annotated[str, Field(pattern=r"^[0-9]{2}/[0-9]{1,7}[A-Z]$")] | None = None


class Referrer(BaseModel):
    model_config = _STRICT
    name: _Name
    relationship_to_child: _Name
    is_professional: StrictBool
    organisation: _Short | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    wishes_anonymity: StrictBool = False


class ReferralIn(BaseModel):
    model_config = _STRICT
    subjects: Annotated[list[ReferralSubject], Field(min_length=1, max_length=12)]
    concerns: Annotated[
        list[
            Literal[
                "NEGLECT",
                "PHYSICAL_ABUSE",
                "SEXUAL_ABUSE",
                "EMOTIONAL_ABUSE",
                "DOMESTIC_ABUSE",
                "CRIMINAL_EXPLOITATION",
                "SEXUAL_EXPLOITATION",
                "MISSING",
                "SUBSTANCE_MISUSE",
                "PARENTAL_MENTAL_HEALTH",
                "OTHER",
            ]
        ],
        Field(min_length=1, max_length=11, json_schema_extra=_UNIQUE),
        _Unique,
    ]
    source_type: Literal[
        "POLICE",
        "SCHOOL",
        "HEALTH",
        "GP",
        "PUBLIC",
        "ANONYMOUS",
        "HOUSING",
        "PROBATION",
        "OTHER_PROFESSIONAL",
        "FAMILY_MEMBER",
        "SELF",
    ]
    rag: Rag | Literal["UNKNOWN"] = "UNKNOWN"
    summary: _Text
    referrer: Referrer | None = None
    referral_id: Annotated[str, Field(pattern=REFERRAL_ID)] | None = None
    # At most the roster's agency types, each once; which they are is checked on arrival (api.writes).
    agencies: (
        Annotated[list[AgencyType], Field(min_length=1, max_length=32, json_schema_extra=_UNIQUE), _Unique]
        | None
    ) = None

    @model_validator(mode="after")
    def _subjects_once(self) -> ReferralIn:
        _unique([s.subject_ref for s in self.subjects])
        return self


class RagIn(BaseModel):
    model_config = _STRICT
    rag: Rag
    reason: _Text
    decided_by: _Actor = None


class AssignIn(BaseModel):
    model_config = _STRICT
    subscribers: Annotated[
        list[_Name], Field(min_length=1, max_length=32, json_schema_extra=_UNIQUE), _Unique
    ]
    assigned_by: _Actor = None


class Feedback(BaseModel):
    model_config = _STRICT
    given: StrictBool
    method: Literal["PHONE", "EMAIL", "LETTER", "SECURE_PORTAL", "IN_PERSON", "OTHER"] | None = None


class DecisionIn(BaseModel):
    model_config = _STRICT
    outcome: Outcome
    reason: _Text
    decided_by: _Actor = None
    referrer_feedback: Feedback | None = None


class ConsentIn(BaseModel):
    model_config = _STRICT
    kind: Literal[
        "CONSENT_GIVEN",
        "CONSENT_REFUSED",
        "CONSENT_WITHDRAWN",
        "NOT_SOUGHT_RISK_OF_HARM",
        "SAFEGUARDING_OVERRIDE",
    ]
    scope: Literal["DATA_SHARING", "EARLY_HELP_SERVICE"] = "EARLY_HELP_SERVICE"
    family_informed: StrictBool | None = None
    not_informed_reason: _Text | None = None
    decided_by: _Actor = None
    reason: _Text | None = None


class ReviewIn(BaseModel):
    """A reviewer's decision on an uncertain subject match held for REVIEW (see the case's withheld list)."""

    model_config = _STRICT
    source_msg_id: Annotated[str, Field(pattern=MSG_ID)]
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    subject_ref: Annotated[str, Field(pattern=r"^(S[0-9]{1,3})?$")] = ""
    approved: StrictBool
    reason: _Text
    decided_by: _Actor = None


class Published(BaseModel):
    msg_id: str


class Opened(BaseModel):
    referral_id: str
    enquiries: list[dict[str, Any]]


class CaseSummary(BaseModel):
    referral_id: str
    rag: str | None
    outcome: str | None
    updated_at: str
    breached: bool
