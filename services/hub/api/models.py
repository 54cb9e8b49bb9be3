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
# The outcomes as MASHs record them (children-in-need census and local MASH recording; DOMAIN.md).
Outcome = Literal[
    "INFORMATION_AND_ADVICE",
    "EARLY_HELP",
    "STEP_DOWN_EARLY_HELP",
    "CSC_ASSESSMENT_S17",
    "STRATEGY_DISCUSSION_S47",
    "IMMEDIATE_PROTECTION",
    "POLICE_OR_SINGLE_AGENCY",
    "NO_FURTHER_ACTION",
    "TRANSFER_OUT",
]
# Referral.v2 ReferralSource, after the CIN census source-of-referral groups.
PROFESSIONAL_SOURCES = (
    "POLICE",
    "SCHOOL",
    "EDUCATION_SERVICES",
    "HEALTH",
    "GP",
    "HEALTH_VISITOR",
    "SCHOOL_NURSE",
    "EMERGENCY_DEPARTMENT",
    "HOUSING",
    "PROBATION",
    "YOUTH_JUSTICE",
    "LOCAL_AUTHORITY",
    "OTHER_LEGAL_AGENCY",
    "OTHER_PROFESSIONAL",
)
PUBLIC_SOURCES = ("FAMILY_MEMBER", "PUBLIC", "SELF", "ANONYMOUS")
Source = Literal[
    "POLICE",
    "SCHOOL",
    "EDUCATION_SERVICES",
    "HEALTH",
    "GP",
    "HEALTH_VISITOR",
    "SCHOOL_NURSE",
    "EMERGENCY_DEPARTMENT",
    "HOUSING",
    "PROBATION",
    "YOUTH_JUSTICE",
    "LOCAL_AUTHORITY",
    "OTHER_LEGAL_AGENCY",
    "OTHER_PROFESSIONAL",
    "FAMILY_MEMBER",
    "PUBLIC",
    "SELF",
    "ANONYMOUS",
    "OTHER",
]
# Referral.v2 ConcernCategory: the census's assessment factors.
Concern = Literal[
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
    "PARENTAL_SUBSTANCE_MISUSE",
    "SELF_HARM",
    "RADICALISATION",
    "TRAFFICKING",
    "FGM",
    "ONLINE_HARM",
    "OTHER",
    "PARENTAL_LEARNING_DISABILITY",
    "GANGS",
    "MODERN_SLAVERY",
    "PRIVATE_FOSTERING",
    "YOUNG_CARER",
    "CHILD_ON_CHILD_ABUSE",
    "ALCOHOL_MISUSE",
    "DRUG_MISUSE",
    "HOMELESSNESS",
    "SOCIALLY_UNACCEPTABLE_BEHAVIOUR",
    "DISABILITY",
    "ABUSE_LINKED_TO_FAITH_OR_BELIEF",
]
CONCERNS_MAX = 29
Role = Literal["CHILD", "PARENT", "CARER", "SIBLING", "HOUSEHOLD_MEMBER", "ALLEGED_PERPETRATOR", "OTHER"]
# DPA 2018 Sch 1 para 18(2): why consent is not the basis.
Ground = Literal["CONSENT_CANNOT_BE_GIVEN", "CANNOT_REASONABLY_BE_OBTAINED", "WOULD_PREJUDICE_PROTECTION"]
# Why the family was not told (Information sharing: advice for practitioners, 2024: not where telling them
# would put a child or an adult at increased risk of harm, prejudice the prevention or detection of crime,
# or cause unjustified delay). A code, so it can travel in the clear; any narrative goes in the sealed note.
NotInformed = Literal[
    "INCREASED_RISK_TO_CHILD",
    "INCREASED_RISK_TO_ADULT",
    "PREJUDICE_CRIME_PREVENTION_OR_DETECTION",
    "UNJUSTIFIED_DELAY",
    "FAMILY_NOT_CONTACTABLE",
    "OTHER",
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
SUBJECT_REF = r"^S[0-9]{1,3}$"
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
    """A person the referral is about. An unborn child has no name, date of birth or NHS number yet: it
    gives its expected date of delivery and its mother, another subject of the case, through whom
    agencies match. ``confidential_address`` marks a person whose address must not locate them."""

    model_config = _STRICT
    subject_ref: Annotated[str, Field(pattern=SUBJECT_REF)]
    role: Role
    given_names: _Name | None = None
    family_name: _Name | None = None
    dob: IsoDate | None = None
    postcode: Annotated[str, Field(max_length=10)] | None = None
    address_lines: Annotated[list[_Name], Field(max_length=4)] = []
    town: _Name | None = None
    nhs: Annotated[str, Field(pattern=r"^[0-9 ]{10,12}$")] | None = None
    upn: Annotated[str, Field(pattern=r"^[A-Z][0-9]{11}[0-9A-Z]$")] | None = None
    pnc: Annotated[str, Field(pattern=r"^[0-9]{2}/[0-9]{1,7}[A-Z]$")] | None = None
    local: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9/-]{0,31}$")] | None = None
    gender: Literal["MALE", "FEMALE", "OTHER", "NOT_STATED", "NOT_KNOWN"] = "NOT_STATED"
    unborn: StrictBool = False
    expected_date_of_delivery: IsoDate | None = None
    mother_subject_ref: Annotated[str, Field(pattern=SUBJECT_REF)] | None = None
    confidential_address: StrictBool = False

    @model_validator(mode="after")
    def _born_or_unborn(self) -> ReferralSubject:
        if self.unborn:
            given = [f for f in ("dob", "nhs", "upn", "pnc") if getattr(self, f) is not None]
            if given:
                raise ValueError(f"an unborn child has no {', '.join(given)} yet")
            if self.expected_date_of_delivery is None or self.mother_subject_ref is None:
                raise ValueError("an unborn child needs expected_date_of_delivery and mother_subject_ref")
            if self.role not in ("CHILD", "SIBLING"):
                raise ValueError("an unborn subject is a CHILD or a SIBLING")
            if self.mother_subject_ref == self.subject_ref:
                raise ValueError("an unborn child's mother is another subject")
        else:
            if not (self.given_names and self.family_name):
                raise ValueError("given_names and family_name are required (except for an unborn child)")
            if self.expected_date_of_delivery is not None or self.mother_subject_ref is not None:
                raise ValueError("expected_date_of_delivery and mother_subject_ref are for an unborn child")
        return self


class Referrer(BaseModel):
    model_config = _STRICT
    name: _Name
    relationship_to_child: _Name
    is_professional: StrictBool
    organisation: _Short | None = None
    role: _Short | None = None
    phone: Annotated[str, Field(max_length=32)] | None = None
    email: Annotated[str, Field(max_length=254)] | None = None
    wishes_anonymity: StrictBool = False


class ReferralIn(BaseModel):
    model_config = _STRICT
    subjects: Annotated[list[ReferralSubject], Field(min_length=1, max_length=12)]
    concerns: Annotated[
        list[Concern], Field(min_length=1, max_length=CONCERNS_MAX, json_schema_extra=_UNIQUE), _Unique
    ]
    source_type: Source
    rag: Rag | Literal["UNKNOWN"] = "UNKNOWN"
    summary: _Text
    referrer: Referrer | None = None
    # Decided at intake: a professional cannot refer anonymously and is known to children's social care; a
    # member of the public's identity is protected. Unset, it follows the referrer, else the source.
    referrer_type: Literal["PROFESSIONAL", "PUBLIC"] | None = None
    # A professional's request that the family is not told who referred (not an anonymity from the MASH).
    referrer_anonymity_from_family: StrictBool = False
    immediate_risk: StrictBool | None = None
    parents_aware: StrictBool | None = None
    child_voice: _Text | None = None
    incident_date: IsoDate | None = None
    actions_taken: _Text | None = None
    referral_id: Annotated[str, Field(pattern=REFERRAL_ID)] | None = None
    # At most the roster's agency types, each once; which they are is checked on arrival (api.writes).
    agencies: (
        Annotated[list[AgencyType], Field(min_length=1, max_length=32, json_schema_extra=_UNIQUE), _Unique]
        | None
    ) = None

    @model_validator(mode="after")
    def _subjects_once(self) -> ReferralIn:
        refs = [s.subject_ref for s in self.subjects]
        _unique(refs)
        for s in self.subjects:
            if s.mother_subject_ref is not None and s.mother_subject_ref not in refs:
                raise ValueError(f"{s.subject_ref}'s mother_subject_ref is not a subject of the referral")
        self._referrer_consistent()
        return self

    def _referrer_consistent(self) -> None:
        kind = self.referrer_type
        professional = self.referrer is not None and self.referrer.is_professional
        if self.referrer is not None and kind is not None and professional != (kind == "PROFESSIONAL"):
            raise ValueError("referrer.is_professional contradicts referrer_type")
        if kind == "PROFESSIONAL" and self.source_type in PUBLIC_SOURCES:
            raise ValueError(f"a professional cannot refer as {self.source_type}")
        if kind == "PUBLIC" and self.source_type in PROFESSIONAL_SOURCES:
            raise ValueError(f"a {self.source_type} contact is a professional's")

    def kind_of_referrer(self) -> Literal["PROFESSIONAL", "PUBLIC"]:
        """As given; else the referrer's own say; else the source's. Anything unclear is PUBLIC, whose
        identity is protected."""
        if self.referrer_type is not None:
            return self.referrer_type
        if self.referrer is not None:
            return "PROFESSIONAL" if self.referrer.is_professional else "PUBLIC"
        return "PROFESSIONAL" if self.source_type in PROFESSIONAL_SOURCES else "PUBLIC"


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


class StrategyIn(BaseModel):
    """A strategy discussion convened: reasonable cause to suspect significant harm (Children Act 1989
    s47), whatever the rating."""

    model_config = _STRICT
    reason: _Text
    decided_by: _Actor = None


class MarkerIn(BaseModel):
    """A person's confidential-address marker set, or lifted with ``marker_lifted``."""

    model_config = _STRICT
    subject_ref: Annotated[str, Field(pattern=SUBJECT_REF)]
    marker_lifted: StrictBool = False
    reason: _Text
    decided_by: _Actor = None


class SubjectAddedIn(BaseModel):
    """A sibling, a new partner or a household member joins the case. The agencies asked about them are
    ``agencies`` (each on the roster), or every agency when it is not given."""

    model_config = _STRICT
    subject: ReferralSubject
    reason: _Text
    decided_by: _Actor = None
    agencies: (
        Annotated[list[AgencyType], Field(min_length=1, max_length=32, json_schema_extra=_UNIQUE), _Unique]
        | None
    ) = None


class FeedbackIn(BaseModel):
    """The referrer told the outcome (the referrer is always told; DOMAIN.md), recorded after it."""

    model_config = _STRICT
    given: StrictBool
    method: Literal["PHONE", "EMAIL", "LETTER", "SECURE_PORTAL", "IN_PERSON", "OTHER"] | None = None
    reason: _Text | None = None
    decided_by: _Actor = None


class ConsentIn(BaseModel):
    """One person's consent record (``subject_ref`` unset: the whole family). Sharing without consent
    names its DPA 2018 Sch 1 para 18(2) ``ground``; a family not told says why, as a code, with any
    narrative in the sealed ``not_informed_note``."""

    model_config = _STRICT
    kind: Literal[
        "CONSENT_GIVEN",
        "CONSENT_REFUSED",
        "CONSENT_WITHDRAWN",
        "NOT_SOUGHT_RISK_OF_HARM",
        "SAFEGUARDING_OVERRIDE",
    ]
    scope: Literal["DATA_SHARING", "EARLY_HELP_SERVICE"] = "EARLY_HELP_SERVICE"
    subject_ref: Annotated[str, Field(pattern=SUBJECT_REF)] | None = None
    party: Literal["PARENT_WITH_PR", "YOUNG_PERSON", "ADULT_SUBJECT", "CARER"] | None = None
    gillick_competent: StrictBool | None = None
    categories: Annotated[
        list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")]],
        Field(max_length=64, json_schema_extra=_UNIQUE),
        _Unique,
    ] = []
    services: Annotated[list[_Name], Field(max_length=32, json_schema_extra=_UNIQUE), _Unique] = []
    ground: Ground | None = None
    family_informed: StrictBool | None = None
    not_informed_reason: NotInformed | None = None
    not_informed_note: _Text | None = None
    decided_by: _Actor = None
    reason: _Text | None = None

    @model_validator(mode="after")
    def _coherent(self) -> ConsentIn:
        without = self.kind in ("NOT_SOUGHT_RISK_OF_HARM", "SAFEGUARDING_OVERRIDE")
        if without and self.ground is None:
            raise ValueError(f"{self.kind} shares without consent: name its para 18(2) ground")
        if self.kind == "CONSENT_GIVEN" and self.ground is not None:
            raise ValueError("a ground is for sharing without consent, not with it")
        if (self.categories or self.services) and self.scope != "DATA_SHARING":
            raise ValueError("categories and services narrow a DATA_SHARING permission only")
        if self.gillick_competent is not None and self.party != "YOUNG_PERSON":
            raise ValueError("gillick_competent is judged for a YOUNG_PERSON")
        if self.party is not None and self.subject_ref is None:
            raise ValueError("a party's record names its subject_ref")
        if self.family_informed is False and self.not_informed_reason is None:
            raise ValueError("a family not told needs not_informed_reason")
        if self.family_informed is not False and (self.not_informed_reason or self.not_informed_note):
            raise ValueError("not_informed_reason is for a family not told (family_informed false)")
        return self


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


class Added(BaseModel):
    msg_id: str
    enquiries: list[dict[str, Any]]


class CaseSummary(BaseModel):
    referral_id: str
    rag: str | None
    outcome: str | None
    updated_at: str
    breached: bool
