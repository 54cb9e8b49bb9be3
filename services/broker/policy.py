"""The information sharing agreement (ISA), written as data: a YAML file validated by pydantic.

It names the participants, the subscribers and their roles, the data categories (classification, special
category, criminal offence, locating, third parties, originator control, redaction, what a screening answer
reveals), the purposes with the conditions each disclosure rests on, and the rules. Anything no rule allows
is denied. ``lawful_basis`` composes a disclosure's basis from its purpose, category and source.
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

Stage = Literal[
    "SCREENING", "RED", "AMBER", "GREEN", "STRATEGY_DISCUSSION", "S47", "S17", "EARLY_HELP", "DECIDED"
]
Purpose = Literal[
    "SCREENING",
    "TRIAGE",
    "STRATEGY_DISCUSSION",
    "S47_ENQUIRY",
    "S17_ASSESSMENT",
    "EARLY_HELP",
    "LATE_INFORMATION",
]
ConsentState = Literal["NONE", "GIVEN", "REFUSED", "WITHDRAWN", "NOT_SOUGHT", "OVERRIDE"]
ReferrerType = Literal["PROFESSIONAL", "PUBLIC", "UNKNOWN"]
STAGES: tuple[Stage, ...] = (
    "SCREENING",
    "RED",
    "AMBER",
    "GREEN",
    "STRATEGY_DISCUSSION",
    "S47",
    "S17",
    "EARLY_HELP",
    "DECIDED",
)
PURPOSES: tuple[Purpose, ...] = (
    "SCREENING",
    "TRIAGE",
    "STRATEGY_DISCUSSION",
    "S47_ENQUIRY",
    "S17_ASSESSMENT",
    "EARLY_HELP",
    "LATE_INFORMATION",
)
CONSENT_STATES: tuple[ConsentState, ...] = ("NONE", "GIVEN", "REFUSED", "WITHDRAWN", "NOT_SOUGHT", "OVERRIDE")
REFERRER_TYPES: tuple[ReferrerType, ...] = ("PROFESSIONAL", "PUBLIC", "UNKNOWN")
LATE_INFORMATION: Purpose = "LATE_INFORMATION"

# What a subject access response must not reveal from an audit record (AuditRecord v3 ``protected``).
PROTECTED_ADDRESS, PROTECTED_THIRD_PARTY, PROTECTED_REFERRER = (
    "CONFIDENTIAL_ADDRESS",
    "THIRD_PARTY",
    "PUBLIC_REFERRER",
)

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
    SCOPED_CONTACT = "SYS-SCOPED-CONTACT"
    CONFIDENTIAL_ADDRESS = "SYS-CONFIDENTIAL-ADDRESS"
    CONSENT_SCOPE = "SYS-CONSENT-SCOPE"
    RETIRED_SCHEMA = "SYS-RETIRED-SCHEMA"


class Agreement(BaseModel):
    model_config = _STRICT

    name: str
    reference: str
    in_force_from: date
    in_force_to: date | None = None
    signatories: list[str] = Field(min_length=1)
    # DPA 2018 Sch 1 Part 4: the document special-category and criminal-offence processing under Sch 1 needs.
    appropriate_policy_document: str | None = None

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
    criminal_offence: bool = Field(default=False, description="UK GDPR Art 10 data.")
    locating: bool = Field(
        default=False, description="Withheld about a person under a confidential-address marker."
    )
    names_others: bool = Field(default=False, description="May name third parties.")
    reveals: str | None = Field(
        default=None, description="The category whose fact this screening answer reveals."
    )
    originator_control: OriginatorControl | None = None
    redacted: Literal["PUBLIC_REFERRER"] | bool = Field(
        default=False,
        description="Withheld unless a rule allows it; PUBLIC_REFERRER: unless a professional referred.",
    )

    def redacted_for(self, referrer_type: str) -> bool:
        if self.redacted == "PUBLIC_REFERRER":
            # A professional cannot refer anonymously; anyone else, or a referral that does not say, is
            # protected.
            return referrer_type != "PROFESSIONAL"
        return self.redacted is True


class PurposePolicy(BaseModel):
    """A purpose of sharing and the conditions each disclosure for it rests on."""

    model_config = _STRICT

    description: str = ""
    article_6: str
    article_9: str | None = None
    article_10: str | None = None
    dpa_condition: str | None = None
    part_3: str | None = None
    legal_reason: str | None = None
    consent: Literal["NOT_REQUIRED", "REQUIRED"] = "NOT_REQUIRED"


class Rule(BaseModel):
    model_config = _STRICT

    id: str = Field(pattern=r"^[A-Z][A-Z0-9-]{1,40}$")
    description: str = ""
    roles: list[str] = Field(min_length=1)
    categories: list[str] = Field(min_length=1)
    purposes: list[Purpose] = Field(min_length=1)
    stages: list[Stage] = Field(default_factory=lambda: list(STAGES), min_length=1)
    lawful_basis: str | None = None
    allow_redacted: bool | list[Purpose] = False
    confidential_address: bool = Field(
        default=False, description="Locating categories are released under a confidential-address marker."
    )

    def matches(self, role: str, category: str, purpose: str, stage: str) -> bool:
        return (
            role in self.roles
            and category in self.categories
            and purpose in self.purposes
            and (stage in self.stages)
        )

    def allows_redacted(self, purpose: str) -> bool:
        if isinstance(self.allow_redacted, bool):
            return self.allow_redacted
        return purpose in self.allow_redacted


class Policy(BaseModel):
    model_config = _STRICT

    version: str
    agreement: Agreement
    participants: dict[str, Participant]
    subscribers: dict[str, Subscriber]
    senders: dict[ParticipantRole, tuple[MessageKind, ...]] = Field(default_factory=default_senders)
    screening_desk: str | None = None
    categories: dict[str, CategoryPolicy]
    screening_categories: list[str] = Field(min_length=1)
    purposes: dict[Purpose, PurposePolicy]
    rules: list[Rule]
    review_threshold: float = Field(default=0.9, gt=0, le=1)

    @model_validator(mode="after")
    def _references(self) -> Policy:
        problems = (
            self._category_problems()
            + self._participant_problems()
            + self._rule_problems()
            + self._basis_problems()
        )
        if self.screening_desk is not None and self.screening_desk not in self.subscribers:
            problems.append(f"screening_desk: {self.screening_desk!r} is not a subscriber")
        for who in self.agreement.signatories:
            if who not in self.participants:
                problems.append(f"agreement.signatories: {who!r} is not in participants")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _category_problems(self) -> list[str]:
        problems: list[str] = []
        for name in self.categories:
            if name not in CATEGORIES:
                problems.append(f"categories.{name}: not a data category Jigsaw carries")
        for name in self.screening_categories:
            if name not in self.categories:
                problems.append(f"screening_categories: {name!r} is not in categories")
        for name, cat in self.categories.items():
            if cat.reveals is not None and cat.reveals not in self.categories:
                problems.append(f"categories.{name}.reveals: unknown category {cat.reveals!r}")
            if cat.originator_control is not None:
                for sub in cat.originator_control.allowed_subscribers:
                    if sub not in self.subscribers:
                        where = f"categories.{name}.originator_control.allowed_subscribers"
                        problems.append(f"{where}: unknown subscriber {sub!r}")
        return problems

    def _participant_problems(self) -> list[str]:
        problems: list[str] = []
        for pid, party in self.participants.items():
            if party.subscriber is not None and party.subscriber not in self.subscribers:
                problems.append(f"participants.{pid}.subscriber: unknown subscriber {party.subscriber!r}")
            if party.reveals is not None and party.reveals not in self.categories:
                problems.append(f"participants.{pid}.reveals: unknown category {party.reveals!r}")
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
        return problems

    def _rule_problems(self) -> list[str]:
        problems: list[str] = []
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
            if isinstance(rule.allow_redacted, list):
                problems += [
                    f"{where}.allow_redacted: purpose {p} is not one of the rule's purposes"
                    for p in rule.allow_redacted
                    if p not in rule.purposes
                ]
        return problems

    def _basis_problems(self) -> list[str]:
        """Every release must be able to name its conditions: Art 9 for special-category data and Art 10
        for criminal-offence data, each with its DPA 2018 condition, and the appropriate policy document."""
        problems: list[str] = []
        needs: set[tuple[Purpose, str]] = set()
        for rule in self.rules:
            for c in rule.categories:
                cat = self.categories.get(c)
                for p in rule.purposes:
                    if cat is not None and cat.special_category:
                        needs.add((p, "article_9"))
                    if cat is not None and cat.criminal_offence:
                        needs.add((p, "article_10"))
        for p, field in sorted(needs):
            purpose = self.purposes.get(p)
            if purpose is None:
                continue  # reported by the rules' own check
            if getattr(purpose, field) is None:
                problems.append(f"purposes.{p}.{field}: a rule releases data that needs it for {p}")
            if purpose.dpa_condition is None:
                problems.append(f"purposes.{p}.dpa_condition: {field} data needs its DPA 2018 condition")
        if needs and self.agreement.appropriate_policy_document is None:
            problems.append(
                "agreement.appropriate_policy_document: special-category or criminal-offence data is shared "
                "under DPA 2018 Sch 1, which needs one"
            )
        return sorted(set(problems), key=problems.index)

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

    def revealed_by(self, category: str, source: str = "") -> str | None:
        """The category whose fact a section of ``category`` from ``source`` would reveal, if any: its own
        ``reveals``, or the sending participant's. Any section from a participant whose involvement is
        itself a fact (known to probation at all) tells a desk that fact, its identity and addresses too."""
        cat = self.categories.get(category)
        if cat is not None and cat.reveals is not None:
            return cat.reveals
        party = self.participants.get(source)
        return party.reveals if party is not None and party.reveals != category else None

    def may_know(self, subscriber: str, category: str, purpose: str) -> bool:
        """Whether ``subscriber`` may know the fact of ``category`` for ``purpose``, which a screening answer
        would tell it: some rule for its role lists the category for the purpose (for screening, for triage,
        where the answer leads), whatever the stage; the originator allows it; it is not always redacted."""
        sub = self.subscribers.get(subscriber)
        cat = self.categories.get(category)
        if sub is None or cat is None or cat.redacted is True:
            return False
        control = cat.originator_control
        if control is not None and subscriber not in control.allowed_subscribers:
            return False
        wanted = "TRIAGE" if purpose == "SCREENING" else purpose
        return any(
            sub.role in r.roles and category in r.categories and wanted in r.purposes for r in self.rules
        )

    def lawful_basis(self, rule: Rule, category: str, purpose: str, source: str = "") -> str:
        """A release's lawful basis: the rule's own if it names one, else the purpose's Art 6 condition;
        with Art 9 for special-category data and Art 10 for criminal-offence data, each with the DPA 2018
        condition; and the Part 3 basis where the source is a competent authority."""
        if rule.lawful_basis:
            return rule.lawful_basis
        p = self.purposes[purpose]  # type: ignore[index]
        cat = self.categories[category]
        party = self.participants.get(source)
        parts: list[str | None] = [p.article_6]
        if cat.special_category:
            parts += [p.article_9, p.dpa_condition]
        if cat.criminal_offence:
            parts += [p.article_10, p.dpa_condition]
        if party is not None and party.competent_authority:
            parts.append(p.part_3)
        return "; ".join(dict.fromkeys(x for x in parts if x))

    def protected(self, category: str, marked: bool, referrer_type: str) -> list[str]:
        """What a subject access response must not reveal from a decision on this category."""
        cat = self.categories.get(category)
        if cat is None:
            return []
        out = []
        if cat.locating and marked:
            out.append(PROTECTED_ADDRESS)
        if cat.names_others:
            out.append(PROTECTED_THIRD_PARTY)
        if category == "referrer_identity" and referrer_type != "PROFESSIONAL":
            out.append(PROTECTED_REFERRER)
        return out


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
