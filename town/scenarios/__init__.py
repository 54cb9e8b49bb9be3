"""The six scenarios (seven referrals: early help has a variant the family refuses), as data.

Each scenario is a household written into the agencies' systems like any other, a referral as the MASH
receives it (names as the referrer gives them, which the agencies hold spelled their own way), what the
MASH does once the returns are in, and what each subscriber's view must then show: the categories it
sees, each category withheld from it with the rule that withheld it, and the derived flags. One module
each; :mod:`town.scenarios.common` holds the types and the helpers they are built from.
"""

from __future__ import annotations

from datetime import date

from town.deployment import SUBSCRIBERS
from town.model import Household
from town.scenarios import anonymous_caller, bike_theft, domestic_abuse, drug_house, early_help, sex_offender
from town.scenarios.common import (
    CSC,
    HEALTH,
    HOURS,
    PARTNER,
    POLICE,
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
    "Expect",
    "Scenario",
    "ScenarioSubject",
    "Step",
    "households",
    "scenarios",
]

# In this order: the scenarios share one identifier sequence, so the order is part of their data.
_BUILDERS = (
    bike_theft.scenario,
    drug_house.scenario,
    sex_offender.scenario,
    domestic_abuse.scenario,
    early_help.agreed,
    early_help.refused,
    anonymous_caller.scenario,
)


def scenarios(today: date) -> list[Scenario]:
    ids = Ids()
    return [make(today, ids) for make in _BUILDERS]


def households(today: date) -> list[Household]:
    """The scenario households, for the generator to write into the agencies' systems."""
    return [s.household for s in scenarios(today)]
