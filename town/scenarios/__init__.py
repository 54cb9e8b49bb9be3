"""The scenarios, as data: the six of the first demo (seven referrals: early help has a variant the family
refuses) and those of issue #15, each aimed at one rule of who may see what at which stage.

Each scenario is a household written into the agencies' systems like any other, a referral as the MASH
receives it (names as the referrer gives them, which the agencies hold spelled their own way), what the
MASH does once the returns are in, and what each subscriber's view must then show: the categories it
sees, each category withheld from it with the rule that withheld it, and the derived flags. One module
each; :mod:`town.scenarios.common` holds the types and the helpers they are built from.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from town.deployment import SUBSCRIBERS
from town.model import Household
from town.scenarios import (
    anonymous_caller,
    bike_theft,
    domestic_abuse,
    drug_house,
    early_help,
    fled_victim,
    late_return,
    re_referral,
    referrers,
    scoped_answers,
    sex_offender,
    strategy_discussion,
    young_person,
)
from town.scenarios.common import (
    CSC,
    HEALTH,
    HOURS,
    PARTNER,
    POLICE,
    UNTOLD,
    Expect,
    Ids,
    Scenario,
    ScenarioSubject,
    Step,
)

__all__ = [
    "CSC",
    "HEALTH",
    "HOURS",
    "PARTNER",
    "POLICE",
    "SUBSCRIBERS",
    "UNTOLD",
    "Expect",
    "Scenario",
    "ScenarioSubject",
    "Step",
    "households",
    "scenarios",
]

# In this order: the scenarios share one identifier sequence, so the order is part of their data; and the
# demo opens the referrals in this order (the first contact before its re-referral).
_BUILDERS: tuple[Callable[[date, Ids], Scenario | tuple[Scenario, ...]], ...] = (
    bike_theft.scenario,
    drug_house.scenario,
    sex_offender.scenario,
    domestic_abuse.scenario,
    early_help.agreed,
    early_help.refused,
    anonymous_caller.scenario,
    late_return.scenario,
    strategy_discussion.scenario,
    fled_victim.scenario,
    referrers.professional,
    referrers.public,
    young_person.scenario,
    scoped_answers.scenario,
    re_referral.scenarios,
)


def scenarios(today: date) -> list[Scenario]:
    ids = Ids()
    out: list[Scenario] = []
    for make in _BUILDERS:
        made = make(today, ids)
        out += made if isinstance(made, tuple) else [made]
    return out


def households(today: date) -> list[Household]:
    """The scenario households, for the generator to write into the agencies' systems: each once, though
    a re-referral's household is its first contact's."""
    return [s.household for s in scenarios(today) if not s.shares_household]
