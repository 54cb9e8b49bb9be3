"""The information sharing agreement (ISA), written as data: a YAML file validated by pydantic.

It names the participants, the subscribers and their roles, the data categories (classification,
special-category flag, originator control, redaction), the purposes with their lawful basis and consent
requirement, and the rules. Anything no rule allows is denied.
"""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from jigsaw.errors import ConfigError
from jigsaw.roster import (
    RESERVED_PRINCIPALS,
    MessageKind,
    Participant,
    ParticipantRole,
    Roster,
    Subscriber,
    default_senders,
    read_yaml_mapping,
)
from jigsaw.wire.categories import CATEGORIES
from services.broker.errors import PolicyError

Stage = Literal["SCREENING", "RED", "AMBER", "GREEN"]
Purpose = Literal["SCREENING", "TRIAGE", "STRATEGY_DISCUSSION", "S47_ENQUIRY", "S17_ASSESSMENT", "EARLY_HELP"]
ConsentState = Literal["NONE", "GIVEN", "REFUSED", "WITHDRAWN", "NOT_SOUGHT", "OVERRIDE"]
STAGES: tuple[Stage, ...] = ("SCREENING", "RED", "AMBER", "GREEN")
PURPOSES: tuple[Purpose, ...] = (
    "SCREENING",
    "TRIAGE",
    "STRATEGY_DISCUSSION",
    "S47_ENQUIRY",
    "S17_ASSESSMENT",
    "EARLY_HELP",
)
CONSENT_STATES: tuple[ConsentState, ...] = ("NONE", "GIVEN", "REFUSED", "WITHDRAWN", "NOT_SOUGHT", "OVERRIDE")


_STRICT = ConfigDict(extra="forbid", frozen=True)


class SystemRule(StrEnum):
    """The ids the broker itself gives a refusal or a review, as opposed to the agreement's own rules.

    They are wire values: audit records, withheld notices and the hub's views carry them, so never
    change one; add a new member instead.
    """

    AGREEMENT = "SYS-AGREEMENT"
    PURPOSE = "SYS-PURPOSE"
    UNKNOWN = "SYS-UNKNOWN"
    NOT_ASSIGNED = "SYS-NOT-ASSIGNED"
    REDACTED = "SYS-REDACTED"
    SCREENING = "SYS-SCREENING"
    DEFAULT_DENY = "DEFAULT-DENY"
    ORIGINATOR = "SYS-ORIGINATOR"
    CONSENT_REFUSED = "SYS-CONSENT-REFUSED"
    CONSENT_AWAITED = "SYS-CONSENT-AWAITED"
    MATCH_REVIEW = "SYS-MATCH-REVIEW"
    REVIEW_DECLINED = "SYS-REVIEW-DECLINED"
    ADDRESSED_ELSEWHERE = "SYS-ADDRESSED-ELSEWHERE"


# A rule with no stages applies at Red and Amber, where the full agreed categories are shared.
_FULL_STAGES: tuple[Stage, ...] = ("RED", "AMBER")


class Agreement(BaseModel):
    model_config = _STRICT

    name: str
    reference: str
    in_force_from: date
    in_force_to: date | None = None
    signatories: list[str] = Field(min_length=1)

    def in_force(self, on: date) -> bool:
        return self.in_force_from <= on and (self.in_force_to is None or on <= self.in_force_to)


class OriginatorControl(BaseModel):
    model_config = _STRICT

    originator: str = Field(description="The agency type whose data this is, e.g. probation.")
    allowed_subscribers: list[str]


class CategoryPolicy(BaseModel):
    model_config = _STRICT

    classification: Literal["OFFICIAL", "OFFICIAL_SENSITIVE"]
    special_category: bool = False
    originator_control: OriginatorControl | None = None
    redacted: bool = Field(default=False, description="Withheld unless a rule sets allow_redacted.")


class PurposePolicy(BaseModel):
    model_config = _STRICT

    lawful_basis: str
    consent: Literal["NOT_REQUIRED", "REQUIRED"] = "NOT_REQUIRED"
    description: str = ""


class Rule(BaseModel):
    model_config = _STRICT

    id: str = Field(pattern=r"^[A-Z][A-Z0-9-]{1,40}$")
    description: str = ""
    roles: list[str] = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    stages: list[Stage] = Field(default_factory=lambda: list(_FULL_STAGES), min_length=1)
    lawful_basis: str | None = None
    allow_redacted: bool = False

    def matches(self, role: str, category: str, purpose: str, stage: str) -> bool:
        return (
            role in self.roles
            and category in self.categories
            and purpose in self.purposes
            and (stage in self.stages)
        )


class Policy(BaseModel):
    model_config = _STRICT

    version: str
    agreement: Agreement
    participants: dict[str, Participant]
    subscribers: dict[str, Subscriber]
    senders: dict[ParticipantRole, tuple[MessageKind, ...]] = Field(default_factory=default_senders)
    categories: dict[str, CategoryPolicy]
    screening_categories: list[str] = Field(min_length=1)
    purposes: dict[Purpose, PurposePolicy]
    rules: list[Rule]
    review_threshold: float = Field(default=0.9, gt=0, le=1)

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems: list[str] = []
        for name in self.categories:
            if name not in CATEGORIES:
                problems.append(f"categories.{name}: not a data category Jigsaw carries")
        for name in self.screening_categories:
            if name not in self.categories:
                problems.append(f"screening_categories: {name!r} is not in categories")
        for name, cat in self.categories.items():
            if cat.originator_control is not None:
                for sub in cat.originator_control.allowed_subscribers:
                    if sub not in self.subscribers:
                        where = f"categories.{name}.originator_control.allowed_subscribers"
                        problems.append(f"{where}: unknown subscriber {sub!r}")
        for pid, party in self.participants.items():
            if party.subscriber is not None and party.subscriber not in self.subscribers:
                problems.append(f"participants.{pid}.subscriber: unknown subscriber {party.subscriber!r}")
            problems += [
                f"participants.{pid}.publishes: unknown category {c!r}"
                for c in party.publishes
                if c not in self.categories
            ]
        problems += [
            f"participants.{pid}: the id is reserved for one of Kafka's own principals"
            for pid in self.participants
            if pid in RESERVED_PRINCIPALS
        ]
        for who in self.agreement.signatories:
            if who not in self.participants:
                problems.append(f"agreement.signatories: {who!r} is not in participants")
        roles = {s.role for s in self.subscribers.values()}
        seen: set[str] = set()
        for i, rule in enumerate(self.rules):
            where = f"rules[{i}] ({rule.id})"
            if rule.id in seen:
                problems.append(f"{where}.id: the id is used twice")
            if rule.id in set(SystemRule):
                problems.append(f"{where}.id: {rule.id} is the broker's own rule id")
            seen.add(rule.id)
            problems += [f"{where}.roles: no subscriber has role {r!r}" for r in rule.roles if r not in roles]
            problems += [
                f"{where}.categories: unknown category {c!r}"
                for c in rule.categories
                if c not in self.categories
            ]
            problems += [
                f"{where}.purposes: purpose {p} has no entry under purposes"
                for p in rule.purposes
                if p not in self.purposes
            ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def roster(self) -> Roster:
        return Roster(participants=self.participants, subscribers=self.subscribers, senders=self.senders)

    def may_send(self, sender: str, kind: str) -> bool:
        """The role's kinds, narrowed by the participant's own ``sends`` where it has one."""
        return self.roster.may_send(sender, kind)

    def rule_for(self, role: str, category: str, purpose: str, stage: str) -> Rule | None:
        """The first rule that matches: the agreement's rules are read in order."""
        for rule in self.rules:
            if rule.matches(role, category, purpose, stage):
                return rule
        return None


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file. Errors name the file, the field and what is wrong."""
    try:
        raw = read_yaml_mapping(path, "policy file")
    except ConfigError as exc:
        raise PolicyError(str(exc)) from exc
    try:
        return Policy.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = err["msg"].removeprefix("Value error, ")
            lines.append(f"  {loc}: {msg}")
        raise PolicyError(f"{path}: {exc.error_count()} problem(s):\n" + "\n".join(lines)) from None
