"""What happens to one household, recorded as agencies record it: the shared helpers of the stories."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from town.households import Builder, Home, Member
from town.model import Held, Kind


@dataclass
class Story:
    b: Builder
    home: Home
    # Household circumstances the agencies' records have in common: "da", "neglect", "social_rent", ...
    flags: set[str] = field(default_factory=set)

    @property
    def rng(self) -> random.Random:
        return self.b.rng

    @property
    def today(self) -> date:
        return self.b.today

    def add(
        self, agency: str, who: Member, source: str, on: date, kind: Kind = "FACT", **fields: Any
    ) -> None:
        """Record an item in ``agency``'s system; the person becomes known to that agency."""
        who.known.add(agency)
        self.home.held.append(Held(agency, who.key, source, fields, min(on, self.today), kind))

    def ago(self, lo: int, hi: int, *, after: date | None = None) -> date:
        """A day between ``hi`` and ``lo`` days ago, and not before ``after`` (a birth, a start)."""
        day = self.today - timedelta(days=self.rng.randint(lo, max(lo, hi)))
        return max(day, after) if after is not None else day

    def between(self, start: date, end: date) -> date:
        span = (end - start).days
        return start + timedelta(days=self.rng.randint(0, span)) if span > 0 else start

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def pick(self, weighted: Mapping[str, float]) -> str:
        return self.rng.choices(list(weighted), weights=list(weighted.values()))[0]

    def members(self) -> list[Member]:
        return self.home.members

    def children(self) -> list[Member]:
        return self.home.children(self.today)

    def adults(self) -> list[Member]:
        return self.home.adults(self.today)

    def academic_year_start(self) -> int:
        return self.today.year if self.today.month >= 9 else self.today.year - 1


def concerned(story: Story) -> bool:
    """Whether the household is already in difficulty, which raises the universal services' rates."""
    return bool(story.flags & {"da", "neglect"})


def weekday_after(day: date) -> date:
    """The next school day after ``day``, when an Operation Encompass call is made."""
    day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def academic_year(start: int) -> str:
    return f"{start}/{(start + 1) % 100:02d}"
