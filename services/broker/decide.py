"""Section-level decisions: RELEASE, WITHHOLD or REVIEW, each with the rule that made it.

The checks run in a fixed order and the first that fails decides, so every refusal names one reason:

1. an agreement in force, a purpose, a known subscriber and category;
2. need to know: the subscriber is assigned to the referral (the screening desk always is, for late
   information);
3. redaction: a victim's safe contact details always, a public referrer's identity (a professional cannot
   refer anonymously), unless the matching rule allows it for this purpose;
4. the screening limit: for the purpose of screening, only the screening categories ("known / not known
   + contact"), unless a rule names the category for screening;
5. role x category x purpose x stage: the first matching rule, else default deny;
6. originator control (MAPPA only to the subscribers probation allows, say);
7. scoped screening answers: an answer whose team or service name would reveal another category's fact
   goes only to a desk that may know that fact;
8. confidential addresses: locating details about a marked person, unless the rule allows them;
9. consent where the purpose needs it (early help, which is voluntary): only the person's (or their
   parents') agreement opens it, within the scope of any data-sharing permission; an override never does;
10. a retired payload schema that could embed what its category must not carry.

Subject-match confidence is checked by the caller, after a RELEASE: an uncertain match becomes REVIEW.
A case can have more than one live purpose: ``decide_live`` decides under each and keeps the first release.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Literal

from cachetools import LRUCache

from services.broker.policy import LATE_INFORMATION, Policy, SystemRule

Outcome = Literal["RELEASE", "WITHHOLD", "REVIEW"]


@dataclass(frozen=True)
class Sharing:
    """A data-sharing permission's scope: the categories and services it names (None: not narrowed)."""

    categories: frozenset[str] | None = None
    services: frozenset[str] | None = None

    def covers(self, category: str, subscriber: str) -> bool:
        return (self.categories is None or category in self.categories) and (
            self.services is None or subscriber in self.services
        )


@dataclass(frozen=True)
class Context:
    subscriber: str
    category: str
    purpose: str | None
    stage: str
    # The early-help agreement that decides this section: its person's own, or their parents'.
    consent: str = "NONE"
    assigned: bool = True
    # The participant whose section this is: a plain contact reveals its ``reveals``; a competent
    # authority's disclosures add the Part 3 basis.
    source: str = ""
    referrer_type: str = "UNKNOWN"
    # The section's person carries a confidential-address marker (or its address in this message does).
    marked: bool = False
    # Whose record the consent state is (a refusal is recorded against that parent).
    consent_by: str = ""
    sharing: Sharing | None = None
    # The section's payload is in a retired schema version (checked by the processor, never decrypted).
    retired: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    rule_id: str
    reason: str
    lawful_basis: str | None = None
    purpose: str | None = None


def _no(rule: SystemRule, reason: str, purpose: str | None = None) -> Decision:
    # The plain string, so a decision compares, caches and serialises exactly as before the enum.
    return Decision("WITHHOLD", rule.value, reason, None, purpose)


def decide(policy: Policy, ctx: Context, today: date) -> Decision:
    if not policy.agreement.in_force(today):
        return _no(SystemRule.AGREEMENT, f"agreement {policy.agreement.reference} is not in force")
    if ctx.purpose is None:
        return _no(SystemRule.PURPOSE, "no purpose for sharing has been recorded")
    purpose = policy.purposes.get(ctx.purpose)  # type: ignore[call-overload]
    if purpose is None:
        return _no(SystemRule.PURPOSE, f"the agreement does not cover the purpose {ctx.purpose}")
    p = ctx.purpose
    subscriber = policy.subscribers.get(ctx.subscriber)
    category = policy.categories.get(ctx.category)
    if subscriber is None or category is None:
        return _no(SystemRule.UNKNOWN, "subscriber or category not in the agreement", p)
    if not ctx.assigned:
        return _no(SystemRule.NOT_ASSIGNED, "the subscriber is not assigned to this referral", p)
    rule = policy.rule_for(subscriber.role, ctx.category, p, ctx.stage)
    # Redaction is named before the screening limit: a protected referrer stays protected after screening
    # too, and the record should say so, not merely that the case is still at screening.
    if category.redacted_for(ctx.referrer_type) and (rule is None or not rule.allows_redacted(p)):
        return _no(SystemRule.REDACTED, f"{ctx.category} is redacted unless a rule allows it for {p}", p)
    if p == "SCREENING" and ctx.category not in policy.screening_categories and rule is None:
        return _no(SystemRule.SCREENING, "for screening only known / not known and contact are shared", p)
    if rule is None:
        return _no(SystemRule.DEFAULT_DENY, f"no rule lets {subscriber.role} see {ctx.category} for {p}", p)
    control = category.originator_control
    if control is not None and ctx.subscriber not in control.allowed_subscribers:
        return _no(
            SystemRule.ORIGINATOR, f"{control.originator} does not allow this subscriber {ctx.category}", p
        )
    revealed = policy.revealed_by(ctx.category, ctx.source)
    if revealed is not None and not policy.may_know(ctx.subscriber, revealed, p):
        return _no(
            SystemRule.SCOPED_CONTACT,
            f"the answer would reveal {revealed}, which {subscriber.role} may not know",
            p,
        )
    if category.locating and ctx.marked and not rule.confidential_address:
        return _no(
            SystemRule.CONFIDENTIAL_ADDRESS,
            "locating details of a person under a confidential-address marker",
            p,
        )
    refused = _consent(ctx, purpose.consent == "REQUIRED")
    if refused is not None:
        return refused
    if ctx.retired:
        return _no(
            SystemRule.RETIRED_SCHEMA, f"a retired {ctx.category} schema may carry what it must not", p
        )
    basis = policy.lawful_basis(rule, ctx.category, p, ctx.source)
    return Decision("RELEASE", rule.id, rule.description or "allowed by the agreement", basis, p)


def _consent(ctx: Context, required: bool) -> Decision | None:
    """Only an agreement opens a purpose that needs it: early help is voluntary, so neither a safeguarding
    override nor a decision not to seek consent does (rising risk means a new outcome, not early help)."""
    p = ctx.purpose
    if not required:
        return None
    if ctx.consent in ("REFUSED", "WITHDRAWN"):
        by = f" by {ctx.consent_by}" if ctx.consent_by else ""
        return _no(SystemRule.CONSENT_REFUSED, f"consent was {ctx.consent.lower()}{by}; respected", p)
    if ctx.consent != "GIVEN":
        why = "an override does not open it" if ctx.consent in ("OVERRIDE", "NOT_SOUGHT") else "awaited"
        return _no(SystemRule.CONSENT_AWAITED, f"{p} needs the person's or the parents' agreement ({why})", p)
    if ctx.sharing is not None and not ctx.sharing.covers(ctx.category, ctx.subscriber):
        return _no(
            SystemRule.CONSENT_SCOPE,
            f"the data-sharing permission does not cover {ctx.category} for this service",
            p,
        )
    return None


def choose(decisions: Sequence[Decision]) -> Decision:
    """Of one section's decisions under each live purpose: the first release; else the first refusal with
    a reason of its own; else the default deny."""
    for d in decisions:
        if d.outcome == "RELEASE":
            return d
    for d in decisions:
        if d.rule_id != SystemRule.DEFAULT_DENY.value:
            return d
    return decisions[0]


def decide_live(
    decide_one: Callable[[Context], Decision], ctx: Context, purposes: Sequence[str], screening_desk: bool
) -> Decision:
    """``ctx`` decided under each live purpose, in order. For late information the screening desk counts as
    assigned, so that a decision can be revisited whether or not the desk still holds the case."""
    if not purposes:
        return decide_one(replace(ctx, purpose=None))
    return choose(
        [
            decide_one(
                replace(ctx, purpose=p, assigned=ctx.assigned or (screening_desk and p == LATE_INFORMATION))
            )
            for p in purposes
        ]
    )


class Decider:
    """``decide`` behind a bounded cache keyed by everything a decision depends on.

    The key holds the policy version and the whole context (consent, markers and all), so neither a
    reload nor a change of state can be served a stale entry; ``reload`` also empties the cache.
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

    def live(self, ctx: Context, purposes: Sequence[str], today: date) -> Decision:
        desk = ctx.subscriber == self.policy.screening_desk
        return decide_live(lambda c: self(c, today), ctx, purposes, desk)
