"""Whether a subscriber's case view shows what its scenario says it must, and if not, why not."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from town.deployment import AGENCIES
from town.scenarios import Scenario

# Every referral sends one enquiry to each agency the deployment has a connector for.
AGENCY_COUNT = len(AGENCIES)


def released(view: Mapping[str, Any]) -> set[str]:
    return {s["category"] for sections in view["contributions"].values() for s in sections}


def withheld(view: Mapping[str, Any]) -> dict[str, set[str]]:
    """Category -> the rules that withheld its sections (REVIEW for an uncertain match held for a person)."""
    out: dict[str, set[str]] = {}
    for w in view["withheld"]:
        out.setdefault(w["category"], set()).add(w["rule_id"] if w["status"] == "WITHHELD" else w["status"])
    return out


def flags(view: Mapping[str, Any]) -> set[str]:
    return {f["flag"] for f in view["flags"]}


def answered(view: Mapping[str, Any] | None) -> bool:
    return view is not None and view["completeness"]["enquiries_answered"] == AGENCY_COUNT


def problems(scenario: Scenario, subscriber: str, view: Mapping[str, Any] | None) -> list[str]:
    """Every way ``view`` differs from what ``subscriber`` must see; empty when it is as expected."""
    expect = scenario.expect.get(subscriber)
    if expect is None:
        return [] if view is None else ["a subscriber not assigned to the referral has a view of it"]
    if view is None:
        return ["no view yet"]
    out = []
    seen = released(view)
    if expect.sees - seen:
        out.append(f"not yet released: {sorted(expect.sees - seen)}")
    if seen - expect.sees:
        out.append(f"released but should not be: {sorted(seen - expect.sees)}")
    held_back = withheld(view)
    for category, rule in sorted(expect.withheld.items()):
        if held_back.get(category) != {rule}:
            out.append(f"{category} should be withheld by {rule}, is {sorted(held_back.get(category, []))}")
    for category in sorted(set(held_back) - set(expect.withheld)):
        out.append(f"{category} withheld unexpectedly by {sorted(held_back[category])}")
    got = flags(view)
    if got != expect.flags:
        out.append(f"flags {sorted(got)}, expected {sorted(expect.flags)}")
    out += _enquiries(scenario, view)
    outcome = next((s.body["outcome"] for s in scenario.steps if s.path == "decision"), None)
    decision = view.get("decision") or {}
    if outcome is not None and decision.get("outcome") != outcome:
        out.append(f"decision {decision.get('outcome')}, expected {outcome}")
    return out


def _enquiries(scenario: Scenario, view: Mapping[str, Any]) -> list[str]:
    enquiries = view["enquiries"]
    if view.get("received_at") is None:
        return ["the referral itself has not been released"]
    received = datetime.fromisoformat(view["received_at"])
    out = []
    if len(enquiries) != AGENCY_COUNT:
        out.append(f"{len(enquiries)} enquiries, expected one to each of the {AGENCY_COUNT} agencies")
    for e in enquiries:
        # The deadline runs from when the MASH received the referral, not from when each enquiry was sent.
        seconds = (datetime.fromisoformat(e["deadline"]) - received).total_seconds()
        if abs(seconds - scenario.deadline_hours * 3600) > 0.001:  # views carry float-rounded microseconds
            out.append(f"{e['agency']} deadline {seconds / 3600:g} h after the referral, expected "
                       f"{scenario.deadline_hours:g} h for {scenario.rag}")  # fmt: skip
        if e["purpose"] != scenario.purpose:
            out.append(f"{e['agency']} enquiry purpose {e['purpose']}, expected {scenario.purpose}")
        if scenario.purpose == "SCREENING" and sorted(e["categories"]) != ["contact", "identity"]:
            out.append(f"{e['agency']} was asked for {e['categories']} at screening")
        if e["outstanding"]:
            out.append(f"{e['agency']} has not answered")
        elif e["breached"]:
            out.append(f"{e['agency']} answered after its deadline")
    return out
