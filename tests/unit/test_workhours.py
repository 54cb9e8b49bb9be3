"""The working-hours clock: local MASH timescales count working hours and working days, and bank holidays
for England and Wales are public data (DOMAIN.md, "Working hours"); a decision comes within one working
day (DOMAIN.md, "Decision")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from jigsaw.workhours import WorkingHours

LONDON = ZoneInfo("Europe/London")
CLOCK = WorkingHours()


def at(y: int, m: int, d: int, hh: int = 0, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=LONDON)


def test_bank_holidays_come_from_the_holidays_package() -> None:
    """England and Wales bank holidays, as proclaimed: Christmas Day 2026 is a Friday and Boxing Day a
    Saturday, so the substitute bank holiday is Monday 28 December (gov.uk/bank-holidays)."""
    assert CLOCK.is_bank_holiday(date(2026, 12, 25))
    assert CLOCK.is_bank_holiday(date(2026, 12, 28))
    assert not CLOCK.is_working_day(date(2026, 12, 25))
    assert not CLOCK.is_working_day(date(2026, 12, 28))
    assert CLOCK.is_working_day(date(2026, 12, 29))
    assert CLOCK.is_bank_holiday(date(2026, 8, 31)), "the summer bank holiday in England, not Scotland's"


def test_four_working_hours_from_friday_afternoon_land_on_monday() -> None:
    """Surrey Police work Red within 4 working hours (DOMAIN.md): one hour is left on Friday, three more
    on Monday morning."""
    assert CLOCK.add(at(2026, 6, 12, 16), 4) == at(2026, 6, 15, 12)


def test_working_hours_skip_the_christmas_bank_holidays() -> None:
    """From Thursday 24 December 2026 at 16:00, Friday 25 and Monday 28 are bank holidays."""
    assert CLOCK.add(at(2026, 12, 24, 16), 4) == at(2026, 12, 29, 12)


def test_an_instant_out_of_hours_starts_the_clock_at_the_next_working_morning() -> None:
    assert CLOCK.add(at(2026, 6, 13, 11), 2) == at(2026, 6, 15, 11), "Saturday: from Monday 09:00"
    assert CLOCK.add(at(2026, 6, 15, 18), 0) == at(2026, 6, 16, 9), "after hours: the next morning"
    assert CLOCK.add(at(2026, 6, 15, 7), 8) == at(2026, 6, 15, 17), "before hours: the whole day"


def test_the_clock_runs_in_local_time_whatever_zone_the_instant_is_in() -> None:
    """In British Summer Time 15:00 UTC is 16:00 in London; the answer comes back in the caller's zone."""
    got = CLOCK.add(datetime(2026, 6, 12, 15, 0, tzinfo=UTC), 4)
    assert got == at(2026, 6, 15, 12)
    assert got.tzinfo is UTC


def test_the_one_working_day_decision_is_due_at_the_end_of_the_next_working_day() -> None:
    """A decision comes within one working day of the contact (DOMAIN.md, "Decision")."""
    assert CLOCK.end_of_next_working_day(at(2026, 6, 15, 10)) == at(2026, 6, 16, 17), "Monday: Tuesday"
    assert CLOCK.end_of_next_working_day(at(2026, 6, 12, 10)) == at(2026, 6, 15, 17), "Friday: Monday"
    assert CLOCK.end_of_next_working_day(at(2026, 6, 13, 10)) == at(2026, 6, 15, 17), "Saturday: Monday"
    assert CLOCK.end_of_next_working_day(at(2026, 12, 24, 10)) == at(2026, 12, 29, 17), "over Christmas"


def test_hours_days_zone_and_holidays_are_configuration() -> None:
    """Timescales are local configuration (DOMAIN.md): a service working 08:00-18:00 Monday to Saturday
    without bank holidays counts differently."""
    local = WorkingHours.model_validate(
        {"start": "08:00", "end": "18:00", "weekdays": [0, 1, 2, 3, 4, 5], "holiday_subdivision": None}
    )
    assert local.is_working_day(date(2026, 12, 25))
    assert local.add(at(2026, 6, 12, 16), 4) == at(2026, 6, 13, 10)
    assert local.end == time(18, 0)


def test_the_bus_microsecond_timestamps_round_trip() -> None:
    start = at(2026, 6, 12, 16)
    us = int(start.timestamp()) * 1_000_000 + 123
    due = CLOCK.add_us(us, 4)
    assert due == int(at(2026, 6, 15, 12).timestamp()) * 1_000_000 + 123
    assert CLOCK.decision_due_us(us) == int(at(2026, 6, 15, 17).timestamp()) * 1_000_000


@pytest.mark.parametrize(
    "config",
    [
        {"start": "17:00", "end": "09:00"},
        {"weekdays": []},
        {"weekdays": [7]},
        {"time_zone": "Mars/Olympus"},
        {"holiday_subdivision": "XYZ"},
    ],
)
def test_a_clock_with_no_working_time_or_an_unknown_zone_is_refused(config: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        WorkingHours.model_validate(config)


def test_naive_instants_and_negative_hours_are_refused() -> None:
    with pytest.raises(Exception, match="timezone-aware"):
        CLOCK.add(datetime(2026, 6, 12, 16), 1)
    with pytest.raises(ValueError, match="negative"):
        CLOCK.add(at(2026, 6, 12, 16), -1)
