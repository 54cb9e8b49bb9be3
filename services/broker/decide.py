"""Section-level decisions: RELEASE, WITHHOLD or REVIEW, each with the rule that made it.

The checks run in a fixed order and the first that fails decides, so every refusal names one reason:

1. an agreement in force, a purpose, a known subscriber and category;
2. need to know: the subscriber is assigned to the referral;
3. redaction of the public referrer's identity and a victim's safe contact details, unless the matching
   rule explicitly allows it;
4. the stage: at screening only the screening categories ("known / not known + contact");
5. role x category x purpose x stage: the first matching rule, else default deny;
6. originator control (MAPPA only to the subscribers probation allows, say);
7. consent where the purpose needs it (early help): given or overridden, else withheld.

Subject-match confidence is checked by the caller, after a RELEASE: an uncertain match becomes REVIEW.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from cachetools import LRUCache

from services.broker.policy import Policy, SystemRule

Outcome = Literal["RELEASE", "WITHHOLD", "REVIEW"]


@dataclass(frozen=True)
class Context:
    subscriber: str
    category: str
    purpose: str | None
    stage: str
    consent: str
    assigned: bool


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule_id: str
    reason: str
    lawful_basis: str | None = None


def _no(rule: SystemRule, reason: str) -> Decision:
    # The plain string, so a decision compares, caches and serialises exactly as before the enum.
    return Decision("WITHHOLD", rule.value, reason)


def decide(policy: Policy, ctx: Context, today: date) -> Decision:
    if not policy.agreement.in_force(today):
        return _no(SystemRule.AGREEMENT, f"agreement {policy.agreement.reference} is not in force")
    if ctx.purpose is None:
        return _no(SystemRule.PURPOSE, "no purpose for sharing has been recorded")
    purpose = policy.purposes.get(ctx.purpose)  # type: ignore[call-overload]
    if purpose is None:
        return _no(SystemRule.PURPOSE, f"the agreement does not cover the purpose {ctx.purpose}")
    subscriber = policy.subscribers.get(ctx.subscriber)
    category = policy.categories.get(ctx.category)
    if subscriber is None or category is None:
        return _no(SystemRule.UNKNOWN, "subscriber or category not in the agreement")
    if not ctx.assigned:
        return _no(SystemRule.NOT_ASSIGNED, "the subscriber is not assigned to this referral")
    rule = policy.rule_for(subscriber.role, ctx.category, ctx.purpose, ctx.stage)
    # Redaction is named before the stage: a protected referrer stays protected after screening too, and
    # the record should say so, not merely that the case is still at screening.
    if category.redacted and (rule is None or not rule.allow_redacted):
        return _no(SystemRule.REDACTED, f"{ctx.category} is redacted unless a rule explicitly allows it")
    if ctx.stage == "SCREENING" and ctx.category not in policy.screening_categories:
        return _no(SystemRule.SCREENING, "at screening only known / not known and contact are shared")
    if rule is None:
        return _no(
            SystemRule.DEFAULT_DENY, f"no rule lets {subscriber.role} see {ctx.category} for {ctx.purpose}"
        )
    control = category.originator_control
    if control is not None and ctx.subscriber not in control.allowed_subscribers:
        return _no(
            SystemRule.ORIGINATOR, f"{control.originator} does not allow this subscriber {ctx.category}"
        )
    if purpose.consent == "REQUIRED" and ctx.consent not in ("GIVEN", "OVERRIDE"):
        if ctx.consent in ("REFUSED", "WITHDRAWN"):
            return _no(
                SystemRule.CONSENT_REFUSED, f"the family's consent was {ctx.consent.lower()}; respected"
            )
        return _no(SystemRule.CONSENT_AWAITED, f"{ctx.purpose} needs the family's agreement")
    basis = rule.lawful_basis or purpose.lawful_basis
    if ctx.consent == "OVERRIDE":
        return Decision("RELEASE", rule.id, "released under a recorded safeguarding override", basis)
    return Decision("RELEASE", rule.id, rule.description or "allowed by the agreement", basis)


class Decider:
    """``decide`` behind a bounded cache keyed by everything a decision depends on.

    The key holds the policy version and the consent state, so neither a reload nor a consent change can
    be served a stale entry; ``reload`` also empties the cache.
    """

    def __init__(self, policy: Policy, maxsize: int = 65_536) -> None:
        self.policy = policy
        self._cache: LRUCache[tuple[object, ...], Decision] = LRUCache(maxsize)
        self.hits = 0
        self.misses = 0

    def reload(self, policy: Policy) -> None:
        self.policy = policy
        self._cache.clear()

    def __call__(self, ctx: Context, today: date) -> Decision:
        key = (self.policy.version, today, ctx)
        found = self._cache.get(key)
        if found is not None:
            self.hits += 1
            return found
        self.misses += 1
        decision = decide(self.policy, ctx, today)
        self._cache[key] = decision
        return decision
