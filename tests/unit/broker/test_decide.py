"""Every rule the broker enforces, decided in process against the shipped example policy."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.broker.decide import Context, Decider, decide
from services.broker.policy import Policy, load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "devon-mash.yaml"
TODAY = date(2026, 11, 26)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(POLICY)


# subscriber, category, purpose, stage, consent, assigned -> outcome, rule
CASES = [
    # need to know and stage limits
    ("csc-mash", "identity", "SCREENING", "SCREENING", "NONE", True, "RELEASE", "R-KNOWN-CONTACT"),
    ("csc-mash", "police_incidents", "SCREENING", "SCREENING", "NONE", True, "WITHHOLD", "SYS-SCREENING"),
    ("csc-mash", "police_incidents", "TRIAGE", "RED", "NONE", True, "RELEASE", "R-CSC-FULL"),
    ("csc-mash", "police_incidents", "TRIAGE", "RED", "NONE", False, "WITHHOLD", "SYS-NOT-ASSIGNED"),
    ("partner-hub", "police_incidents", "TRIAGE", "AMBER", "NONE", True, "WITHHOLD", "DEFAULT-DENY"),
    ("health-mash", "mental_health", "TRIAGE", "AMBER", "NONE", True, "RELEASE", "R-HEALTH-DESK"),
    ("police-mash", "mental_health", "TRIAGE", "AMBER", "NONE", True, "WITHHOLD", "DEFAULT-DENY"),
    # no purpose
    ("csc-mash", "identity", None, "RED", "NONE", True, "WITHHOLD", "SYS-PURPOSE"),
    # safeguarding without consent (DPA 2018 Sch 1 para 18), even after a refusal of early help
    ("csc-mash", "mental_health", "S47_ENQUIRY", "RED", "REFUSED", True, "RELEASE", "R-CSC-FULL"),
    ("csc-mash", "mental_health", "S47_ENQUIRY", "RED", "NOT_SOUGHT", True, "RELEASE", "R-CSC-FULL"),
    # early help needs agreement; a refusal is respected; an override releases
    ("partner-hub", "housing", "EARLY_HELP", "GREEN", "NONE", True, "WITHHOLD", "SYS-CONSENT-AWAITED"),
    ("partner-hub", "housing", "EARLY_HELP", "GREEN", "GIVEN", True, "RELEASE", "R-EARLY-HELP"),
    ("partner-hub", "housing", "EARLY_HELP", "GREEN", "REFUSED", True, "WITHHOLD", "SYS-CONSENT-REFUSED"),
    ("partner-hub", "housing", "EARLY_HELP", "GREEN", "WITHDRAWN", True, "WITHHOLD", "SYS-CONSENT-REFUSED"),
    ("partner-hub", "housing", "EARLY_HELP", "GREEN", "OVERRIDE", True, "RELEASE", "R-EARLY-HELP"),
    # redaction, and the one rule that explicitly allows the referrer's identity
    ("csc-mash", "referrer_identity", "TRIAGE", "RED", "NONE", True, "WITHHOLD", "SYS-REDACTED"),
    ("csc-mash", "referrer_identity", "SCREENING", "SCREENING", "NONE", True, "WITHHOLD", "SYS-REDACTED"),
    ("csc-mash", "referrer_identity", "S47_ENQUIRY", "RED", "NONE", True, "RELEASE", "R-CSC-REFERRER"),
    ("police-mash", "referrer_identity", "S47_ENQUIRY", "RED", "NONE", True, "WITHHOLD", "SYS-REDACTED"),
    ("csc-mash", "victim_safe_contact", "S47_ENQUIRY", "RED", "NONE", True, "WITHHOLD", "SYS-REDACTED"),
    # originator control: MAPPA data only where probation allows
    ("police-mash", "probation", "TRIAGE", "RED", "NONE", True, "RELEASE", "R-POLICE-DESK"),
    ("health-mash", "probation", "TRIAGE", "RED", "NONE", True, "WITHHOLD", "SYS-ORIGINATOR"),
]


@pytest.mark.parametrize(
    ("subscriber", "category", "purpose", "stage", "consent", "assigned", "outcome", "rule"), CASES
)
def test_decision_table(
    policy: Policy,
    subscriber: str,
    category: str,
    purpose: str | None,
    stage: str,
    consent: str,
    assigned: bool,
    outcome: str,
    rule: str,
) -> None:
    d = decide(policy, Context(subscriber, category, purpose, stage, consent, assigned), TODAY)
    assert (d.outcome, d.rule_id) == (outcome, rule), d.reason
    if outcome == "RELEASE":
        assert d.lawful_basis, "every release records its lawful basis"


def test_originator_control_holds_even_where_a_rule_would_allow(policy: Policy) -> None:
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
    d = decide(wider, Context("health-mash", "probation", "TRIAGE", "RED", "NONE", True), TODAY)
    assert (d.outcome, d.rule_id) == ("WITHHOLD", "SYS-ORIGINATOR")


def test_nothing_is_released_outside_the_agreement_period(policy: Policy) -> None:
    d = decide(policy, Context("csc-mash", "identity", "TRIAGE", "RED", "NONE", True), date(2030, 1, 1))
    assert (d.outcome, d.rule_id) == ("WITHHOLD", "SYS-AGREEMENT")


def test_default_is_deny_for_anything_unknown(policy: Policy) -> None:
    d = decide(policy, Context("someone-else", "identity", "TRIAGE", "RED", "NONE", True), TODAY)
    assert d.outcome == "WITHHOLD"


def test_decider_caches_and_a_reload_empties_the_cache(policy: Policy) -> None:
    decider = Decider(policy)
    ctx = Context("csc-mash", "identity", "TRIAGE", "RED", "NONE", True)
    decider(ctx, TODAY)
    decider(ctx, TODAY)
    assert (decider.hits, decider.misses) == (1, 1)
    decider(Context("csc-mash", "identity", "TRIAGE", "RED", "GIVEN", True), TODAY)
    assert decider.misses == 2, "a different consent state is a different key"
    decider.reload(policy.model_copy(update={"version": "v2"}))
    decider(ctx, TODAY)
    assert decider.misses == 3
