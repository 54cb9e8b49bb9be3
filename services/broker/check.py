"""``jigsaw policy check``: rules that can never fire, and rules that conflict.

A cell (role, category, purpose, stage) can fire only where the purpose is live at the stage (see
``stages``), the category is not always redacted (or the rule allows it for the purpose), and the
originator allows some subscriber of the role to see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import product

from services.broker.policy import Policy, Rule
from services.broker.stages import live_purposes


@dataclass(frozen=True)
class Finding:
    rule_id: str
    kind: str  # "never fires" | "conflict"
    message: str


def _cells(rule: Rule) -> set[tuple[str, str, str, str]]:
    return set(product(rule.roles, rule.categories, rule.purposes, rule.stages))


def _how(rule: Rule) -> tuple[object, ...]:
    return (rule.lawful_basis, rule.allow_redacted, rule.confidential_address)


def _barred(policy: Policy, rule: Rule, cell: tuple[str, str, str, str]) -> bool:
    role, category, purpose, stage = cell
    if purpose not in live_purposes(stage):
        return True
    cat = policy.categories[category]
    if cat.redacted is True and not rule.allows_redacted(purpose):
        return True
    control = cat.originator_control
    holders = [s for s, sub in policy.subscribers.items() if sub.role == role]
    return control is not None and not set(holders) & set(control.allowed_subscribers)


def check_policy(policy: Policy) -> list[Finding]:
    findings: list[Finding] = []
    claimed: dict[tuple[str, str, str, str], Rule] = {}
    for rule in policy.rules:
        live = set()
        for cell in sorted(_cells(rule)):
            if _barred(policy, rule, cell):
                continue
            earlier = claimed.get(cell)
            if earlier is not None:
                if _how(earlier) != _how(rule):
                    what = f"{earlier.id} already decides {'/'.join(cell)} differently; {earlier.id} wins"
                    findings.append(Finding(rule.id, "conflict", what))
                continue
            live.add(cell)
            claimed[cell] = rule
        if not live:
            findings.append(Finding(rule.id, "never fires", _why_dead(policy, rule)))
    return _once(findings)


def _once(findings: list[Finding]) -> list[Finding]:
    """One conflict finding per pair of rules: the first cell they share says enough."""
    seen: set[tuple[str, str, str]] = set()
    out = []
    for f in findings:
        key = (f.rule_id, f.kind, f.message.split(" ", 1)[0] if f.kind == "conflict" else f.message)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _why_dead(policy: Policy, rule: Rule) -> str:
    if not any(p in live_purposes(s) for p in rule.purposes for s in rule.stages):
        return "none of its purposes is live at any of its stages"
    if all(policy.categories[c].redacted is True for c in rule.categories) and not any(
        rule.allows_redacted(p) for p in rule.purposes
    ):
        return "its categories are all redacted and it does not set allow_redacted"
    return "every case it covers is decided by an earlier rule, or barred by originator control"
