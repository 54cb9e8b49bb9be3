"""Every rule the broker enforces, decided in process against the shipped example policy.

Each group of rows states the rule it checks and where the rule comes from; every boundary has a row where
someone tries to get more than the rule allows.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from services.broker.decide import Context, Decider, Decision, Sharing, choose, decide
from services.broker.policy import Policy, load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "devon-mash.yaml"
TODAY = date(2026, 11, 26)

CSC, POLICE, HEALTH, PARTNER = "csc-mash", "police-mash", "health-mash", "partner-hub"


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


def _c(sub: str, cat: str, purpose: str | None, stage: str, **kw: Any) -> Context:
    return Context(sub, cat, purpose, stage, **kw)


PRO, PUBLIC = {"referrer_type": "PROFESSIONAL"}, {"referrer_type": "PUBLIC"}
MARKED = {"marked": True}
GIVEN = {"consent": "GIVEN"}

# (context, outcome, rule)
CASES: list[tuple[Context, str, str]] = [
    # Screening is "known / not known + contact" (Working Together 2023 ch. 2, MASH screening): every
    # partner learns whether a subject is known and whom to contact, and nothing else without a rule. The
    # decision makers have a rule of their own (R-CSC-KNOWN-CONTACT), which holds under a marker too.
    (_c(CSC, "identity", "SCREENING", "SCREENING"), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    (_c(PARTNER, "contact", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(POLICE, "identity", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(CSC, "police_incidents", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCREENING"),
    (_c(POLICE, "referral_details", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCREENING"),
    # ... but children's social care must read the referral's own narrative to rate the contact it decides
    # (Children Act 1989 s17 and s47: the local authority decides within one working day).
    (_c(CSC, "referral_details", "SCREENING", "SCREENING"), "RELEASE", "R-CSC-SCREEN"),
    # Need to know: a desk not assigned to the referral gets nothing (UK GDPR Art 5(1)(c) data minimisation).
    (_c(CSC, "police_incidents", "TRIAGE", "RED", assigned=False), "WITHHOLD", "SYS-NOT-ASSIGNED"),
    # No purpose, no release (UK GDPR Art 5(1)(b) purpose limitation).
    (_c(CSC, "identity", None, "RED"), "WITHHOLD", "SYS-PURPOSE"),
    # Red and Amber: each desk sees what its role needs (the agreement's rules, default deny).
    (_c(CSC, "police_incidents", "TRIAGE", "RED"), "RELEASE", "R-CSC-FULL"),
    (_c(PARTNER, "police_incidents", "TRIAGE", "AMBER"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(HEALTH, "mental_health", "TRIAGE", "AMBER"), "RELEASE", "R-HEALTH-DESK"),
    (_c(POLICE, "mental_health", "TRIAGE", "AMBER"), "WITHHOLD", "DEFAULT-DENY"),
    # Green: a s17 decision needs less; the police desk has no rule at Green, and CSC's Green rule leaves
    # police data out.
    (_c(CSC, "health_summary", "TRIAGE", "GREEN"), "RELEASE", "R-CSC-GREEN"),
    (_c(CSC, "police_incidents", "TRIAGE", "GREEN"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(POLICE, "police_incidents", "TRIAGE", "GREEN"), "WITHHOLD", "DEFAULT-DENY"),
    # A strategy discussion, whatever the RAG (Children Act 1989 s47; Working Together 2023 ch. 3: CSC,
    # police and health at least). Police need health findings to decide on a joint investigation.
    (
        _c(POLICE, "police_incidents", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"),
        "RELEASE",
        "R-POLICE-DESK",
    ),
    (
        _c(POLICE, "health_summary", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"),
        "RELEASE",
        "R-POLICE-S47-HEALTH",
    ),
    (_c(POLICE, "health_summary", "S47_ENQUIRY", "S47"), "RELEASE", "R-POLICE-S47-HEALTH"),
    (_c(HEALTH, "health_summary", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"), "RELEASE", "R-HEALTH-DESK"),
    (_c(CSC, "police_incidents", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"), "RELEASE", "R-CSC-S47"),
    # ... health findings, not the rest of health: police get no mental health record, and no health
    # findings at triage, before there is reasonable cause to suspect significant harm.
    (_c(POLICE, "mental_health", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(POLICE, "health_summary", "TRIAGE", "RED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(PARTNER, "health_summary", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"), "WITHHOLD", "DEFAULT-DENY"),
    # Late information after a decision reaches the decision makers, so that the decision can be revisited
    # (Working Together 2023 ch. 2: decisions are revisited when new information arrives), and no one else.
    (_c(CSC, "police_incidents", "LATE_INFORMATION", "DECIDED"), "RELEASE", "R-CSC-LATE"),
    (_c(POLICE, "police_incidents", "LATE_INFORMATION", "DECIDED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(PARTNER, "housing", "LATE_INFORMATION", "EARLY_HELP"), "WITHHOLD", "DEFAULT-DENY"),
    # Late information is the decision makers' alone: a desk, or the early-help hub after the family
    # declined, has no new need to know after a decision (Caldicott principle 4: need to know).
    (_c(PARTNER, "identity", "LATE_INFORMATION", "DECIDED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(PARTNER, "contact", "LATE_INFORMATION", "EARLY_HELP"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(POLICE, "identity", "LATE_INFORMATION", "DECIDED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(CSC, "identity", "LATE_INFORMATION", "DECIDED"), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    # Identifiers by scheme: the NHS number for health and care; the PNC ID for police and probation, and
    # for CSC under s47 where it needs it to act; local ids for the council; the UPN for education use only
    # (DfE UPN guidance), so to no MASH desk at all.
    (_c(CSC, "identifier_nhs", "TRIAGE", "RED"), "RELEASE", "R-ID-NHS"),
    (_c(HEALTH, "identifier_nhs", "TRIAGE", "RED"), "RELEASE", "R-ID-NHS"),
    (_c(POLICE, "identifier_nhs", "S47_ENQUIRY", "S47"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(PARTNER, "identifier_nhs", "EARLY_HELP", "EARLY_HELP", **GIVEN), "WITHHOLD", "DEFAULT-DENY"),
    (_c(POLICE, "identifier_pnc", "TRIAGE", "RED"), "RELEASE", "R-ID-PNC-POLICE"),
    (_c(CSC, "identifier_pnc", "TRIAGE", "RED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(CSC, "identifier_pnc", "S47_ENQUIRY", "S47"), "RELEASE", "R-ID-PNC-CSC"),
    (_c(HEALTH, "identifier_pnc", "S47_ENQUIRY", "S47"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(CSC, "identifier_local", "TRIAGE", "AMBER"), "RELEASE", "R-ID-LOCAL"),
    (_c(POLICE, "identifier_local", "TRIAGE", "AMBER"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(CSC, "identifier_upn", "S47_ENQUIRY", "S47"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(HEALTH, "identifier_upn", "TRIAGE", "RED"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(POLICE, "identifier_upn", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION"), "WITHHOLD", "DEFAULT-DENY"),
    (_c(PARTNER, "identifier_upn", "EARLY_HELP", "EARLY_HELP", **GIVEN), "WITHHOLD", "DEFAULT-DENY"),
    # A professional cannot refer anonymously: CSC must know who referred and tell them the outcome
    # (Working Together 2023 ch. 2). A member of the public's identity is protected, and so is a referral
    # that does not say who referred; CSC may learn it only for a strategy discussion or s47 enquiry.
    (_c(CSC, "referrer_identity", "TRIAGE", "RED", **PRO), "RELEASE", "R-CSC-REFERRER"),
    (_c(CSC, "referrer_identity", "SCREENING", "SCREENING", **PRO), "RELEASE", "R-CSC-REFERRER"),
    (_c(CSC, "referrer_identity", "TRIAGE", "RED", **PUBLIC), "WITHHOLD", "SYS-REDACTED"),
    (_c(CSC, "referrer_identity", "TRIAGE", "RED"), "WITHHOLD", "SYS-REDACTED"),
    (_c(CSC, "referrer_identity", "SCREENING", "SCREENING", **PUBLIC), "WITHHOLD", "SYS-REDACTED"),
    (_c(CSC, "referrer_identity", "EARLY_HELP", "EARLY_HELP", **PUBLIC), "WITHHOLD", "SYS-REDACTED"),
    (_c(CSC, "referrer_identity", "S47_ENQUIRY", "S47", **PUBLIC), "RELEASE", "R-CSC-REFERRER"),
    (
        _c(CSC, "referrer_identity", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION", **PUBLIC),
        "RELEASE",
        "R-CSC-REFERRER",
    ),
    (_c(POLICE, "referrer_identity", "S47_ENQUIRY", "S47", **PUBLIC), "WITHHOLD", "SYS-REDACTED"),
    (_c(POLICE, "referrer_identity", "TRIAGE", "RED", **PRO), "WITHHOLD", "DEFAULT-DENY"),
    # Safe contact details are never released (MARAC and IDVA practice), not even to CSC under s47.
    (_c(CSC, "victim_safe_contact", "S47_ENQUIRY", "S47"), "WITHHOLD", "SYS-REDACTED"),
    (
        _c(POLICE, "victim_safe_contact", "STRATEGY_DISCUSSION", "STRATEGY_DISCUSSION", **PRO),
        "WITHHOLD",
        "SYS-REDACTED",
    ),
    # Originator control: MAPPA and police intelligence go only where the originator allows (MAPPA
    # Guidance 2012 ch. 9; the agreement's originator_control).
    (_c(POLICE, "probation", "TRIAGE", "RED"), "RELEASE", "R-POLICE-DESK"),
    (_c(HEALTH, "probation", "TRIAGE", "RED"), "WITHHOLD", "SYS-ORIGINATOR"),
    (_c(HEALTH, "probation", "S47_ENQUIRY", "S47"), "WITHHOLD", "SYS-ORIGINATOR"),
    (_c(HEALTH, "police_intelligence", "TRIAGE", "RED"), "WITHHOLD", "DEFAULT-DENY"),
    # A screening answer is itself a disclosure: a team's or a service's name reveals what its data would
    # (DOMAIN "Who a screening answer may tell what"). It goes only to a desk that may know the fact.
    (_c(POLICE, "contact_probation", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(CSC, "contact_probation", "SCREENING", "SCREENING"), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    (_c(HEALTH, "contact_probation", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (_c(PARTNER, "contact_probation", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (
        _c(HEALTH, "contact", "SCREENING", "SCREENING", source="probation.devon"),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    (_c(HEALTH, "contact", "SCREENING", "SCREENING", source="police.devon"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(HEALTH, "contact_mental_health", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(PARTNER, "contact_mental_health", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (_c(POLICE, "contact_mental_health", "S47_ENQUIRY", "S47"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (_c(POLICE, "contact_health_summary", "S47_ENQUIRY", "S47"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(POLICE, "contact_health_summary", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (_c(POLICE, "contact_police_intelligence", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(HEALTH, "contact_police_intelligence", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (_c(PARTNER, "contact_social_care_history", "SCREENING", "SCREENING"), "WITHHOLD", "SYS-SCOPED-CONTACT"),
    (
        _c(PARTNER, "contact", "SCREENING", "SCREENING", source="youthjustice.devon"),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    # ... and so does anything else such a participant sends (its identity, its addresses): the sender
    # names the agency (policy participants.reveals). Only its own category is decided by its own rules.
    (
        _c(HEALTH, "identity", "TRIAGE", "RED", source="probation.devon"),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    (
        _c(PARTNER, "address", "EARLY_HELP", "EARLY_HELP", source="youthjustice.devon", **GIVEN),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    (_c(POLICE, "identity", "TRIAGE", "RED", source="probation.devon"), "RELEASE", "R-KNOWN-CONTACT"),
    (_c(POLICE, "probation", "TRIAGE", "RED", source="probation.devon"), "RELEASE", "R-POLICE-DESK"),
    # A school's name tells where a child goes every day (contact_education_attendance reveals
    # education_attendance): the health desk may know attendance, the police desk may not, and the early
    # help hub only for early help.
    (_c(HEALTH, "contact_education_attendance", "SCREENING", "SCREENING"), "RELEASE", "R-KNOWN-CONTACT"),
    (
        _c(POLICE, "contact_education_attendance", "SCREENING", "SCREENING"),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    (
        _c(PARTNER, "contact_education_attendance", "SCREENING", "SCREENING"),
        "WITHHOLD",
        "SYS-SCOPED-CONTACT",
    ),
    (
        _c(PARTNER, "contact_education_attendance", "EARLY_HELP", "EARLY_HELP", **GIVEN),
        "RELEASE",
        "R-KNOWN-CONTACT",
    ),
    (_c(CSC, "contact_education_attendance", "TRIAGE", "GREEN"), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    # A victim who has fled must not be found (MARAC practice; DPA 2018 Sch 3 serious-harm exemption):
    # under a confidential-address marker every locating category about the person is withheld, unless
    # the rule explicitly allows it (children's social care sees it, under the marker).
    (_c(POLICE, "address", "TRIAGE", "RED", **MARKED), "WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS"),
    (_c(POLICE, "address", "TRIAGE", "RED"), "RELEASE", "R-POLICE-DESK"),
    (_c(CSC, "address", "TRIAGE", "RED", **MARKED), "RELEASE", "R-CSC-FULL"),
    (_c(HEALTH, "health_summary", "TRIAGE", "AMBER", **MARKED), "WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS"),
    (_c(POLICE, "police_intelligence", "TRIAGE", "RED", **MARKED), "WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS"),
    (_c(POLICE, "housing", "S47_ENQUIRY", "S47", **MARKED), "WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS"),
    (
        _c(PARTNER, "education_attendance", "EARLY_HELP", "EARLY_HELP", **MARKED, **GIVEN),
        "WITHHOLD",
        "SYS-CONFIDENTIAL-ADDRESS",
    ),
    (_c(HEALTH, "mental_health", "TRIAGE", "AMBER", **MARKED), "RELEASE", "R-HEALTH-DESK"),
    # A school's or a clinic's name locates a child who fled, so under a marker the screening answer that
    # names one is withheld too; the decision makers still learn whom to contact (R-CSC-KNOWN-CONTACT
    # confidential_address), and every desk still learns that the child is known.
    (
        _c(HEALTH, "contact_education_attendance", "SCREENING", "SCREENING", **MARKED),
        "WITHHOLD",
        "SYS-CONFIDENTIAL-ADDRESS",
    ),
    (
        _c(HEALTH, "contact_health_summary", "TRIAGE", "RED", **MARKED),
        "WITHHOLD",
        "SYS-CONFIDENTIAL-ADDRESS",
    ),
    (
        _c(POLICE, "contact_health_summary", "S47_ENQUIRY", "S47", **MARKED),
        "WITHHOLD",
        "SYS-CONFIDENTIAL-ADDRESS",
    ),
    (
        _c(PARTNER, "contact_education_attendance", "EARLY_HELP", "EARLY_HELP", **MARKED, **GIVEN),
        "WITHHOLD",
        "SYS-CONFIDENTIAL-ADDRESS",
    ),
    (
        _c(CSC, "contact_education_attendance", "SCREENING", "SCREENING", **MARKED),
        "RELEASE",
        "R-CSC-KNOWN-CONTACT",
    ),
    (_c(CSC, "contact_health_summary", "TRIAGE", "RED", **MARKED), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    # A local team's name and number locate too: under the marker even the plain answer is the decision
    # makers' alone; identity (no address since Identity v2) still reaches every desk.
    (_c(HEALTH, "contact", "SCREENING", "SCREENING", **MARKED), "WITHHOLD", "SYS-CONFIDENTIAL-ADDRESS"),
    (_c(CSC, "contact", "SCREENING", "SCREENING", **MARKED), "RELEASE", "R-CSC-KNOWN-CONTACT"),
    (_c(PARTNER, "identity", "SCREENING", "SCREENING", **MARKED), "RELEASE", "R-KNOWN-CONTACT"),
    # Safeguarding does not wait for consent (DPA 2018 Sch 1 para 18), even after a refusal of early help.
    (_c(CSC, "mental_health", "S47_ENQUIRY", "S47", consent="REFUSED"), "RELEASE", "R-CSC-S47"),
    (_c(CSC, "mental_health", "S47_ENQUIRY", "S47", consent="NOT_SOUGHT"), "RELEASE", "R-CSC-S47"),
    # Early help is voluntary (Working Together 2023 ch. 1): only an agreement opens it; a refusal is
    # respected; neither an override nor a decision not to seek consent opens it.
    (_c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP"), "WITHHOLD", "SYS-CONSENT-AWAITED"),
    (_c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", **GIVEN), "RELEASE", "R-EARLY-HELP"),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", consent="REFUSED"),
        "WITHHOLD",
        "SYS-CONSENT-REFUSED",
    ),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", consent="WITHDRAWN"),
        "WITHHOLD",
        "SYS-CONSENT-REFUSED",
    ),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", consent="OVERRIDE"),
        "WITHHOLD",
        "SYS-CONSENT-AWAITED",
    ),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", consent="NOT_SOUGHT"),
        "WITHHOLD",
        "SYS-CONSENT-AWAITED",
    ),
    # A data-sharing permission naming categories or services is a scope of its own (FHIR Consent
    # provisions; DOMAIN "Consent, per person"): what it leaves out stays withheld.
    (
        _c(
            PARTNER,
            "housing",
            "EARLY_HELP",
            "EARLY_HELP",
            **GIVEN,
            sharing=Sharing(frozenset({"education_attendance"})),
        ),
        "WITHHOLD",
        "SYS-CONSENT-SCOPE",
    ),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", **GIVEN, sharing=Sharing(None, frozenset({CSC}))),
        "WITHHOLD",
        "SYS-CONSENT-SCOPE",
    ),
    (
        _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", **GIVEN, sharing=Sharing(frozenset({"housing"}))),
        "RELEASE",
        "R-EARLY-HELP",
    ),
    # A retired payload schema could carry what its category must not (DomesticAbuse v1 embeds the
    # victim's safe contact details, Identity v1 every identifier and address): withheld from everyone.
    (_c(CSC, "domestic_abuse", "S47_ENQUIRY", "S47", retired=True), "WITHHOLD", "SYS-RETIRED-SCHEMA"),
    (_c(POLICE, "identity", "TRIAGE", "RED", retired=True), "WITHHOLD", "SYS-RETIRED-SCHEMA"),
]


def _id(case: tuple[Context, str, str]) -> str:
    ctx, _, rule = case
    return f"{ctx.subscriber}-{ctx.category}-{ctx.purpose}-{ctx.stage}-{rule}"


@pytest.mark.parametrize(("ctx", "outcome", "rule"), CASES, ids=[_id(c) for c in CASES])
def test_decision_table(policy: Policy, ctx: Context, outcome: str, rule: str) -> None:
    d = decide(policy, ctx, TODAY)
    assert (d.outcome, d.rule_id) == (outcome, rule), d.reason
    assert d.purpose == ctx.purpose
    if outcome == "RELEASE":
        assert d.lawful_basis, "every release records its lawful basis"


def test_a_refusal_is_recorded_against_the_parent_who_refused(policy: Policy) -> None:
    """DOMAIN "Consent, per person": a refusal by one parent is recorded against that parent."""
    ctx = _c(PARTNER, "housing", "EARLY_HELP", "EARLY_HELP", consent="REFUSED", consent_by="S-DAD")
    assert "S-DAD" in decide(policy, ctx, TODAY).reason


def test_lawful_basis_is_composed_per_disclosure(policy: Policy) -> None:
    """UK GDPR Art 6 always; Art 9 for special-category data and Art 10 for criminal-offence data, each with
    its DPA 2018 Sch 1 condition; DPA 2018 Part 3 where a competent authority (police) discloses."""
    tri = policy.purposes["TRIAGE"]
    police = decide(policy, _c(CSC, "police_incidents", "TRIAGE", "RED", source="police.devon"), TODAY)
    assert police.lawful_basis == "; ".join(
        [tri.article_6, tri.article_10, tri.dpa_condition, tri.part_3]  # type: ignore[list-item]
    )
    health = decide(policy, _c(HEALTH, "health_summary", "TRIAGE", "RED", source="health.devon"), TODAY)
    assert health.lawful_basis == "; ".join([tri.article_6, tri.article_9, tri.dpa_condition])  # type: ignore[list-item]
    plain = decide(policy, _c(CSC, "identity", "TRIAGE", "RED", source="health.devon"), TODAY)
    assert plain.lawful_basis == tri.article_6
    # Early help rests on health and social care purposes, not on Part 3: it is not law enforcement.
    eh = policy.purposes["EARLY_HELP"]
    sen = decide(policy, _c(PARTNER, "education_sen_exclusions", "EARLY_HELP", "EARLY_HELP", **GIVEN), TODAY)
    assert sen.lawful_basis == "; ".join([eh.article_6, eh.article_9, eh.dpa_condition])  # type: ignore[list-item]
    # A rule's own basis, where it names one, is the basis (the decision makers' screening answers here).
    i = next(i for i, r in enumerate(policy.rules) if r.id == "R-CSC-KNOWN-CONTACT")
    own_rule = policy.rules[i].model_copy(update={"lawful_basis": "court order 123"})
    rules = [*policy.rules[:i], own_rule, *policy.rules[i + 1 :]]
    own = decide(policy.model_copy(update={"rules": rules}), _c(CSC, "identity", "TRIAGE", "RED"), TODAY)
    assert own.lawful_basis == "court order 123"


def test_may_know_scopes_screening_answers(policy: Policy) -> None:
    """A desk that the policy refuses a category must not learn the same fact from a screening answer:
    for screening, what it may know at triage; the originator's control and always-redacted hold. Nor
    from anything else a participant whose involvement is the fact sends (participants.reveals)."""
    assert policy.may_know(POLICE, "probation", "SCREENING")
    assert not policy.may_know(HEALTH, "probation", "SCREENING"), "probation's originator control"
    assert not policy.may_know(PARTNER, "mental_health", "SCREENING")
    assert policy.may_know(POLICE, "health_summary", "STRATEGY_DISCUSSION")
    assert not policy.may_know(POLICE, "health_summary", "SCREENING")
    assert not policy.may_know(CSC, "victim_safe_contact", "S47_ENQUIRY"), "always redacted"
    assert not policy.may_know("nobody", "identity", "SCREENING")
    assert policy.revealed_by("contact", "probation.devon") == "probation"
    assert policy.revealed_by("contact", "police.devon") is None
    assert policy.revealed_by("contact_mental_health") == "mental_health"
    # The sender's involvement is its fact in everything it sends, except its own category.
    assert policy.revealed_by("identity", "probation.devon") == "probation"
    assert policy.revealed_by("address", "youthjustice.devon") == "youth_justice"
    assert policy.revealed_by("probation", "probation.devon") is None
    assert policy.revealed_by("youth_justice", "youthjustice.devon") is None
    assert policy.revealed_by("identity", "health.devon") is None
    assert policy.revealed_by("contact_education_attendance", "education.devon") == "education_attendance"
    assert policy.may_know(HEALTH, "education_attendance", "SCREENING")
    assert not policy.may_know(POLICE, "education_attendance", "SCREENING")


def test_choose_keeps_the_first_release_else_the_first_reason_of_its_own() -> None:
    """A case with more than one live purpose (early help and late information) releases a section if any
    purpose allows it; a refusal names the rule that says why, not the default deny."""
    deny = Decision("WITHHOLD", "DEFAULT-DENY", "no rule", purpose="EARLY_HELP")
    refused = Decision("WITHHOLD", "SYS-CONSENT-REFUSED", "refused", purpose="EARLY_HELP")
    late = Decision("RELEASE", "R-CSC-LATE", "late", "basis", "LATE_INFORMATION")
    assert choose([refused, late]) is late
    assert choose([deny, refused]) is refused
    assert choose([deny, Decision("WITHHOLD", "DEFAULT-DENY", "x", purpose="LATE_INFORMATION")]) is deny


def test_live_purposes_and_the_screening_desk(policy: Policy) -> None:
    """After early help the family's refusal is respected, yet CSC's own late returns still reach it as
    late information (Working Together 2023 ch. 2); the screening desk counts as assigned for late
    information only, and no other desk does."""
    decider = Decider(policy)
    live = ["EARLY_HELP", "LATE_INFORMATION"]
    csc = decider.live(_c(CSC, "housing", None, "EARLY_HELP", consent="REFUSED"), live, TODAY)
    assert (csc.outcome, csc.rule_id, csc.purpose) == ("RELEASE", "R-CSC-LATE", "LATE_INFORMATION")
    partner = decider.live(_c(PARTNER, "housing", None, "EARLY_HELP", consent="REFUSED"), live, TODAY)
    assert (partner.rule_id, partner.purpose) == ("SYS-CONSENT-REFUSED", "EARLY_HELP")
    unassigned = decider.live(
        _c(CSC, "police_incidents", None, "DECIDED", assigned=False), ["LATE_INFORMATION"], TODAY
    )
    assert unassigned.rule_id == "R-CSC-LATE", "late information always reaches the screening desk"
    eh_only = decider.live(
        _c(CSC, "housing", None, "EARLY_HELP", assigned=False, **GIVEN), ["EARLY_HELP"], TODAY
    )
    assert eh_only.rule_id == "SYS-NOT-ASSIGNED", "not for early help itself"
    police = decider.live(
        _c(POLICE, "police_incidents", None, "DECIDED", assigned=False), ["LATE_INFORMATION"], TODAY
    )
    assert police.rule_id == "SYS-NOT-ASSIGNED"
    assert decider.live(_c(CSC, "identity", None, "DECIDED"), [], TODAY).rule_id == "SYS-PURPOSE"


def test_originator_control_holds_even_where_a_rule_would_allow(policy: Policy) -> None:
    """MAPPA Guidance: probation's data goes only where probation allows, whatever a rule says."""
    rules = [*policy.rules]
    rules.insert(
        0,
        rules[0].model_copy(
            update={
                "id": "R-HEALTH-MAPPA",
                "roles": ["HEALTH_MASH_DESK"],
                "categories": ["probation"],
                "purposes": ["TRIAGE"],
                "stages": ["RED"],
            }
        ),
    )
    wider = policy.model_copy(update={"rules": rules})
    d = decide(wider, _c(HEALTH, "probation", "TRIAGE", "RED"), TODAY)
    assert (d.outcome, d.rule_id) == ("WITHHOLD", "SYS-ORIGINATOR")


def test_a_rule_without_stages_applies_at_every_stage(policy: Policy) -> None:
    """The issue's own defect: a rule with no stages applied only at Red and Amber, so a strategy discussion
    on a Green or unrated case got nothing. Now a rule without stages covers every stage."""
    rule = next(r for r in policy.rules if r.id == "R-POLICE-S47-HEALTH")
    assert set(rule.stages) >= {"SCREENING", "GREEN", "STRATEGY_DISCUSSION", "S47", "DECIDED"}


def test_nothing_is_released_outside_the_agreement_period(policy: Policy) -> None:
    d = decide(policy, _c(CSC, "identity", "TRIAGE", "RED"), date(2030, 1, 1))
    assert (d.outcome, d.rule_id) == ("WITHHOLD", "SYS-AGREEMENT")


def test_default_is_deny_for_anything_unknown(policy: Policy) -> None:
    d = decide(policy, _c("someone-else", "identity", "TRIAGE", "RED"), TODAY)
    assert (d.outcome, d.rule_id) == ("WITHHOLD", "SYS-UNKNOWN")


def test_decider_caches_and_a_reload_empties_the_cache(policy: Policy) -> None:
    decider = Decider(policy)
    ctx = _c(CSC, "identity", "TRIAGE", "RED")
    decider(ctx, TODAY)
    decider(ctx, TODAY)
    assert (decider.hits, decider.misses) == (1, 1)
    decider(_c(CSC, "identity", "TRIAGE", "RED", consent="GIVEN"), TODAY)
    assert decider.misses == 2, "a different consent state is a different key"
    decider(_c(CSC, "identity", "TRIAGE", "RED", marked=True), TODAY)
    assert decider.misses == 3, "so is a marker"
    decider.reload(policy.model_copy(update={"version": "v2"}))
    decider(ctx, TODAY)
    assert decider.misses == 4
