"""Working hours: the clock local MASH timescales run on.

Timescales are local configuration (DOMAIN.md, "Timescales are local configuration"): Surrey Police work Red
within 4 working hours, and a decision comes within one working day. A working hour is an hour between the
day's start and end, on a working weekday that is not a bank holiday, in the deployment's time zone
(Europe/London unless configured). Bank holidays for England and Wales come from the ``holidays`` package
(its ``GB`` calendar, subdivision ``ENG``, whose bank holidays are the same as Wales's), so none is typed in
here and a substitute day (Boxing Day on a Saturday is observed on the Monday) is the package's to know.

Every instant in and out is timezone-aware; microsecond timestamps (the bus's) have their own helpers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, model_validator

from jigsaw.errors import ConfigError

_US = 1_000_000
# A deadline beyond this many days of searching means no working time exists at all (a misconfiguration
# the validator refuses); the bound keeps a loop from running forever on one that slipped through.
_SEARCH_DAYS = 3660


class WorkingHours(BaseModel):
    """The working day: ``start`` to ``end`` on ``weekdays`` (Monday is 0), in ``time_zone``, except the
    bank holidays of ``holiday_subdivision`` in the ``holidays`` package's ``GB`` calendar (``ENG``: England
    and Wales), or none when it is null."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: time = time(9, 0)
    end: time = time(17, 0)
    weekdays: frozenset[int] = Field(default=frozenset({0, 1, 2, 3, 4}), min_length=1)
    time_zone: str = "Europe/London"
    holiday_subdivision: str | None = "ENG"

    @model_validator(mode="after")
    def _sane(self) -> WorkingHours:
        if not self.start < self.end:
            raise ValueError("the working day must start before it ends")
        if not self.weekdays <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        try:
            ZoneInfo(self.time_zone)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown time zone {self.time_zone!r}") from exc
        if self.holiday_subdivision is not None:
            subdivisions = holidays.country_holidays("GB").subdivisions
            if self.holiday_subdivision not in subdivisions:
                raise ValueError(f"holiday_subdivision must be one of {', '.join(subdivisions)}")
        return self

    @cached_property
    def _zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def _holidays(self) -> Any:
        if self.holiday_subdivision is None:
            return {}
        return holidays.country_holidays("GB", subdiv=self.holiday_subdivision)

    def is_bank_holiday(self, day: date) -> bool:
        return day in self._holidays

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.weekdays and not self.is_bank_holiday(day)

    def _local(self, instant: datetime) -> datetime:
        if instant.tzinfo is None:
            raise ConfigError("a working-hours instant must be timezone-aware")
        return instant.astimezone(self._zone)

    def _bounds(self, day: date) -> tuple[datetime, datetime]:
        return (
            datetime.combine(day, self.start, self._zone),
            datetime.combine(day, self.end, self._zone),
        )

    def add(self, instant: datetime, hours: float) -> datetime:
        """The instant ``hours`` working hours after ``instant`` (which may itself be out of hours: the
        clock then starts at the next working day's start). Zero hours out of hours is that start."""
        if hours < 0:
            raise ValueError("working hours to add must not be negative")
        left = timedelta(hours=hours)
        at = self._local(instant)
        day = at.date()
        for _ in range(_SEARCH_DAYS):
            if self.is_working_day(day):
                opens, closes = self._bounds(day)
                begin = max(at, opens)
                if begin < closes or (begin == closes and not left):
                    available = closes - begin
                    if left <= available:
                        return (begin + left).astimezone(instant.tzinfo)
                    left -= available
            day += timedelta(days=1)
        raise ConfigError("no working time found within ten years: check the working-hours settings")

    def next_working_day(self, after: date) -> date:
        """The first working day after ``after``."""
        day = after + timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ConfigError("no working day found within ten years: check the working-hours settings")

    def end_of_next_working_day(self, instant: datetime) -> datetime:
        """The end of the first working day after the day of ``instant``: the one-working-day decision
        clock (a contact received on Monday is decided by the end of Tuesday; one received on a Saturday,
        by the end of Monday)."""
        day = self.next_working_day(self._local(instant).date())
        return self._bounds(day)[1].astimezone(instant.tzinfo)

    # -- the bus's microsecond timestamps ---------------------------------------------------------------
    def add_us(self, at_us: int, hours: float) -> int:
        return _micros(self.add(_instant(at_us), hours))

    def decision_due_us(self, received_us: int) -> int:
        return _micros(self.end_of_next_working_day(_instant(received_us)))


def _instant(us: int) -> datetime:
    return datetime.fromtimestamp(us // _US, UTC) + timedelta(microseconds=us % _US)


def _micros(when: datetime) -> int:
    delta = when - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * _US + delta.microseconds
