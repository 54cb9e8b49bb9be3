"""The demo's judge of a view, and the plaintext scan's needle matching, on hand-made inputs."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from apps.demo import expect
from apps.demo.scan import Needles
from town.scenarios import CSC, PARTNER, POLICE, scenarios

TODAY = date(2026, 11, 26)


def _scenario(key: str) -> Any:
    return next(s for s in scenarios(TODAY) if s.key == key)


def _view(released: dict[str, list[str]], withheld: list[tuple[str, str]], flags: list[str], hours: float,
          purpose: str = "TRIAGE") -> dict[str, Any]:  # fmt: skip
    sent = "2026-11-26T10:00:00+00:00"
    due = f"2026-11-26T{10 + int(hours):02d}:00:00+00:00" if hours < 14 else "2026-11-27T10:00:00+00:00"
    return {
        "contributions": {a: [{"category": c} for c in cats] for a, cats in released.items()},
        "withheld": [{"category": c, "status": "WITHHELD", "rule_id": r, "reason": r} for c, r in withheld],
        "flags": [{"flag": f, "why": ""} for f in flags],
        "enquiries": [
            {
                "agency": a,
                "sent_at": sent,
                "deadline": due,
                "purpose": purpose,
                "categories": ["identity"],
                "outstanding": False,
                "breached": False,
            }
            for a in ("police", "health", "education", "socialcare", "probation", "youthjustice", "housing")
        ],
        "completeness": {"enquiries_answered": 7},
        "received_at": sent,
        "decision": None,
    }


def _police_view(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "released": {"police": ["identity", "contact", "police_incidents", "police_convictions"],
                     "probation": ["probation"], "mash": ["referral_details"]},
        "withheld": [("mental_health", "DEFAULT-DENY"), ("health_summary", "DEFAULT-DENY"),
                     ("education_attendance", "DEFAULT-DENY")],
        "flags": ["release_within_28_days"],
        "hours": 24.0,
    }  # fmt: skip
    args.update(changes)
    return _view(**args)


def test_a_view_as_the_scenario_says_has_no_problems() -> None:
    assert expect.problems(_scenario("bike-theft"), POLICE, _police_view()) == []


def test_each_kind_of_difference_is_named() -> None:
    s = _scenario("bike-theft")
    released = {"police": ["identity", "contact", "police_incidents", "police_convictions", "mental_health"]}
    got = expect.problems(s, POLICE, _police_view(released=released))
    assert "not yet released: ['probation', 'referral_details']" in got
    assert "released but should not be: ['mental_health']" in got
    got = expect.problems(s, POLICE, _police_view(withheld=[("mental_health", "SYS-SCREENING")]))
    assert any(p.startswith("mental_health should be withheld by DEFAULT-DENY") for p in got)
    assert any(p.startswith("health_summary should be withheld") for p in got)
    assert expect.problems(s, POLICE, _police_view(flags=[])) == [
        "flags [], expected ['release_within_28_days']"
    ]
    late = expect.problems(s, POLICE, _police_view(hours=4.0))
    assert len(late) == 7
    assert "police deadline 4 h after the referral, expected 24 h for AMBER" in late


def test_an_unassigned_subscriber_must_have_no_view() -> None:
    s = _scenario("bike-theft")
    assert PARTNER in s.unassigned
    assert expect.problems(s, PARTNER, None) == []
    assert expect.problems(s, PARTNER, _police_view()) == [
        "a subscriber not assigned to the referral has a view of it"
    ]
    assert expect.problems(s, CSC, None) == ["no view yet"]


def test_the_scenarios_dates_move_with_today() -> None:
    later = next(s for s in scenarios(TODAY + timedelta(days=100)) if s.key == "bike-theft")
    now = _scenario("bike-theft")
    due = [h.fields["release_date"] for h in now.household.held if h.source == "probation"]
    due_later = [h.fields["release_date"] for h in later.household.held if h.source == "probation"]
    assert due == [TODAY + timedelta(days=19)]
    assert due_later == [TODAY + timedelta(days=119)]


def test_needles_under_eight_characters_must_end_a_word() -> None:
    needles = Needles([("name", "Amy Cox"), ("postcode", "EX4 6DR"), ("short", "Ava"), ("id", "9990001234")])
    assert needles.count == 3  # "Ava" is too short to tell from ciphertext by chance
    assert needles.find(b"\x00\x0eAmy Cox\x02") == ["name"]
    assert needles.find(b"0Amy Cox") == ["name"]  # an Avro length prefix may be a printable byte
    assert needles.find(b"at EX4 6DRX") == []
    assert needles.find(b"at EX4 6DR.") == ["postcode"]
    assert needles.find(b"x9990001234y") == ["id"]
    assert needles.find(b"") == []
