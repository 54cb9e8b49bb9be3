"""The demo's tables on an 80-column terminal: nothing the reader needs cut off, nothing past the edge."""

from __future__ import annotations

import io
from datetime import date
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from apps.demo.run import Driver
from town.scenarios import CSC, scenarios

SUBSCRIBERS = (CSC, "police-mash", "health-mash", "partner-hub")


def _view() -> dict[str, Any]:
    return {
        "completeness": {
            "sections_released": 44,
            "sections_withheld": 4,
            "enquiries_answered": 7,
            "enquiries_total": 7,
        },
        "contributions": {"police": [{"category": "police_incidents", "late": True}]},
        "withheld": [
            {
                "category": "identifier_upn",
                "rule_id": "DEFAULT-DENY",
                "status": "WITHHOLD",
                "reason": "no rule",
            }
        ],
        "flags": [{"flag": "parental_mental_health"}, {"flag": "release_within_28_days"}],
    }


def _render(width: int) -> tuple[str, Driver]:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None)
    stack = SimpleNamespace(subscribers=SUBSCRIBERS, hub_url=lambda _: "http://127.0.0.1:1")
    driver = Driver(stack, scenarios(date(2026, 12, 1))[:2], console)  # type: ignore[arg-type]
    for p in driver.progress:
        p.referral_id = "R-0123456789abcdef0123456789abcdef"
        p.views = {CSC: _view(), "police-mash": _view(), "health-mash": None, "partner-hub": None}
    console.print(driver.board())
    console.print(driver.details())
    driver.close()
    return out.getvalue(), driver


def test_at_80_columns_no_line_is_wider_and_no_subscriber_or_flag_is_cut() -> None:
    text, driver = _render(80)
    assert not driver.wide
    assert max(len(line) for line in text.splitlines()) <= 80
    for name in ("police", "health", "partner", "parental_mental_health", "release_within_28_days"):
        assert name in text
    assert "police-m…" not in text
    assert "police_incidents*" in text  # late, marked


def test_at_200_columns_the_tables_are_side_by_side() -> None:
    text, driver = _render(200)
    assert driver.wide
    assert "withheld, and why" in text
    assert "police-mash" in text
    assert "parental_mental_health" in text
