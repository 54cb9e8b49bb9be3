"""Whether a subscriber's case view shows what its scenario says it must, and if not, why not."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from jigsaw.workhours import WorkingHours
from town.deployment import AGENCIES
from town.scenarios import HOURS, Scenario

# The referral sends one enquiry to each agency the deployment has a connector for.
AGENCY_COUNT = len(AGENCIES)
# The hubs' default working day (services.hub.config): the demo configures no other, so every deadline is
# its timescale in these working hours from when the enquiry was asked.
CLOCK = WorkingHours()
_SLACK = timedelta(milliseconds=1)  # views carry float-rounded microseconds
_ANSWERS = ("identity", "contact")


def released(view: Mapping[str, Any]) -> set[str]:
    return {s["category"] for sections in view["contributions"].values() for s in sections}


def late(view: Mapping[str, Any]) -> set[str]:
    """The categories released to this subscriber as late information (after the case's decision)."""
    return {s["category"] for sections in view["contributions"].values() for s in sections if s.get("late")}


def withheld(view: Mapping[str, Any]) -> dict[str, set[str]]:
    """Category -> the rules that withheld its sections (REVIEW for an uncertain match held for a person)."""
    out: dict[str, set[str]] = {}
    for w in view["withheld"]:
        out.setdefault(w["category"], set()).add(w["rule_id"] if w["status"] == "WITHHELD" else w["status"])
    return out


def flags(view: Mapping[str, Any]) -> set[str]:
    return {f["flag"] for f in view["flags"]}


def answered(view: Mapping[str, Any] | None) -> bool:
    """Whether every enquiry the referral sent (one to each agency) is answered, and none is outstanding."""
    if view is None:
        return False
    enquiries = view["enquiries"]
    return len(enquiries) >= AGENCY_COUNT and not any(e["outstanding"] for e in enquiries)


def decided(view: Mapping[str, Any] | None, outcome: str | None) -> bool:
    """Whether the view shows ``outcome`` as the case's decision (the broker has applied it)."""
    return view is not None and outcome is not None and (view.get("decision") or {}).get("outcome") == outcome


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
    for category in sorted(expect.withheld):
        rules = expect.rules(category)
        if frozenset(held_back.get(category, ())) != rules:
            out.append(
                f"{category} should be withheld by {' and '.join(sorted(rules))}, "
                f"is {sorted(held_back.get(category, []))}"
            )
    for category in sorted(set(held_back) - set(expect.withheld)):
        out.append(f"{category} withheld unexpectedly by {sorted(held_back[category])}")
    got = late(view)
    if got != expect.late:
        out.append(f"late information {sorted(got)}, expected {sorted(expect.late)}")
    got = flags(view)
    if got != expect.flags:
        out.append(f"flags {sorted(got)}, expected {sorted(expect.flags)}")
    out += _enquiries(scenario, view, expect.not_told)
    outcome = scenario.outcome
    decision = view.get("decision") or {}
    if outcome is not None and decision.get("outcome") != outcome:
        out.append(f"decision {decision.get('outcome')}, expected {outcome}")
    return out


def _enquiries(
    scenario: Scenario, view: Mapping[str, Any], not_told: frozenset[str] = frozenset()
) -> list[str]:
    """Every enquiry the referral sent, each answered in time; but an agency whose answer this desk must
    never be told of may show its enquiry, or not, and never an answer."""
    if view.get("received_at") is None:
        return ["the referral itself has not been released"]
    enquiries = sorted(view["enquiries"], key=lambda e: e["sent_at"])
    asked = Counter((e["agency"], e["purpose"]) for e in enquiries)
    expected = Counter(scenario.enquiries)
    untold = Counter({k: n for k, n in expected.items() if k[0] in not_told})
    out = []
    # The referral's own enquiry to an agency is the first one to it. Counting positions instead would
    # take a later enquiry for an opening one at a desk not told of every agency, and the two deadlines
    # differ only within working hours (outside them both start at the next working day's opening). A
    # desk may be shown an untold agency's later enquiry without its first, so that agency's are judged
    # as later ones, whose window includes the opening deadline.
    opened: set[str] = set()
    if asked - untold != expected - untold or asked - expected:
        out.append(
            f"enquiries (agency, purpose) {sorted(asked.elements())}, expected {sorted(expected.elements())}"
        )
    for e in enquiries:
        out += _deadline(scenario, view, e, opening=e["agency"] not in opened | not_told)
        opened.add(e["agency"])
        if e["purpose"] == "SCREENING" and not all(_screening(c) for c in e["categories"]):
            out.append(f"{e['agency']} was asked for {e['categories']} at screening")
        if e["agency"] in not_told:
            if not e["outstanding"]:
                out.append(f"{e['agency']} answered, and this desk may not know of its involvement")
        elif e["outstanding"]:
            out.append(f"{e['agency']} has not answered")
        elif e["breached"]:
            out.append(f"{e['agency']} answered after its deadline")
    return out


def _screening(category: str) -> bool:
    """Known / not known and contact, plainly or scoped: all that is asked for screening."""
    return category in _ANSWERS or category.startswith("contact_")


def _deadline(scenario: Scenario, view: Mapping[str, Any], e: Mapping[str, Any], opening: bool) -> list[str]:
    """The referral's own enquiries are due their timescale in working hours from when the MASH received
    it, not from when each was sent; one about a subject added later, from when it was asked."""
    received = datetime.fromisoformat(view["received_at"])
    deadline = datetime.fromisoformat(e["deadline"])
    hours = scenario.deadline_hours if opening else HOURS.get(scenario.rag, HOURS["RED"])
    earliest = CLOCK.add(received, hours)
    latest = earliest if opening else CLOCK.add(datetime.fromisoformat(e["sent_at"]), hours)
    if earliest - _SLACK <= deadline <= latest + _SLACK:
        return []
    due = "received" if opening else "asked"
    return [
        f"{e['agency']} deadline {deadline.isoformat()}, expected {hours:g} working hours after the "
        f"referral was {due} ({scenario.rag})"
    ]
