"""``jigsaw policy check``: rules that can never fire, and rules that conflict."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from services.broker.policy import Policy, Rule


@dataclass(frozen=True)
class Finding:
    rule_id: str
    kind: str  # "never fires" | "conflict"
    message: str


def _cells(rule: Rule) -> set[tuple[str, str, str, str]]:
    return set(product(rule.roles, rule.categories, rule.purposes, rule.stages))


def check_policy(policy: Policy) -> list[Finding]:
    findings: list[Finding] = []
    claimed: dict[tuple[str, str, str, str], Rule] = {}
    for rule in policy.rules:
        live = set()
        for cell in _cells(rule):
            role, category, _, stage = cell
            if stage == "SCREENING" and category not in policy.screening_categories:
                continue
            cat = policy.categories[category]
            if cat.redacted and not rule.allow_redacted:
                continue
            control = cat.originator_control
            holders = [s for s, sub in policy.subscribers.items() if sub.role == role]
            if control is not None and not set(holders) & set(control.allowed_subscribers):
                continue
            earlier = claimed.get(cell)
            if earlier is not None:
                if (earlier.lawful_basis, earlier.allow_redacted) != (rule.lawful_basis, rule.allow_redacted):
                    what = f"{earlier.id} already decides {'/'.join(cell)} differently; {earlier.id} wins"
                    findings.append(Finding(rule.id, "conflict", what))
                continue
            live.add(cell)
            claimed[cell] = rule
        if not live:
            findings.append(Finding(rule.id, "never fires", _why_dead(policy, rule)))
    return findings


def _why_dead(policy: Policy, rule: Rule) -> str:
    if set(rule.stages) == {"SCREENING"} and not set(rule.categories) & set(policy.screening_categories):
        return "it applies only at screening, to categories that are never shared at screening"
    if all(policy.categories[c].redacted for c in rule.categories) and not rule.allow_redacted:
        return "its categories are all redacted and it does not set allow_redacted"
    return "every case it covers is decided by an earlier rule, or barred by originator control"
