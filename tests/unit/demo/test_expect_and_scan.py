"""The demo's judge of a view, its pacing of the MASH's steps, and the plaintext scan's needle matching, on
hand-made inputs."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from apps.demo import expect
from apps.demo.run import Progress
from apps.demo.scan import Needles
from town.deployment import AGENCIES
from town.scenarios import CSC, PARTNER, POLICE, Scenario, scenarios

TODAY = date(2026, 11, 26)
# A Thursday morning in working hours: a 24-hour timescale runs into the following Tuesday.
RECEIVED = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def _scenario(key: str) -> Scenario:
    return next(s for s in scenarios(TODAY) if s.key == key)


def _enquiry(agency: str, hours: float, purpose: str, sent: datetime = RECEIVED) -> dict[str, Any]:
    return {
        "agency": agency,
        "sent_at": sent.isoformat(),
        "deadline": expect.CLOCK.add(sent, hours).isoformat(),
        "purpose": purpose,
        "categories": ["identity"],
        "outstanding": False,
        "breached": False,
    }


def _view(
    released: dict[str, list[str]],
    withheld: list[tuple[str, str]],
    flags: list[str],
    hours: float,
    purpose: str = "TRIAGE",
    late: tuple[str, ...] = (),
    outcome: str | None = None,
) -> dict[str, Any]:
    return {
        "contributions": {
            a: [{"category": c, "late": c in late} for c in cats] for a, cats in released.items()
        },
        "withheld": [{"category": c, "status": "WITHHELD", "rule_id": r, "reason": r} for c, r in withheld],
        "flags": [{"flag": f, "why": ""} for f in flags],
        "enquiries": [_enquiry(a, hours, purpose) for a in AGENCIES],
        "received_at": RECEIVED.isoformat(),
        "decision": {"outcome": outcome} if outcome else None,
    }


def _police_view(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "released": {"police": ["identity", "contact", "address", "identifier_pnc", "police_incidents",
                                "police_convictions"],
                     "probation": ["probation", "contact_probation"], "mash": ["referral_details"]},
        "withheld": [("mental_health", "DEFAULT-DENY"), ("health_summary", "DEFAULT-DENY"),
                     ("education_attendance", "DEFAULT-DENY"), ("identifier_nhs", "DEFAULT-DENY"),
                     ("identifier_upn", "DEFAULT-DENY"), ("identifier_local", "DEFAULT-DENY")],
        "flags": ["release_within_28_days"],
        "hours": 24.0,
    }  # fmt: skip
    args.update(changes)
    return _view(**args)


def test_a_view_as_the_scenario_says_has_no_problems() -> None:
    assert expect.problems(_scenario("bike-theft"), POLICE, _police_view()) == []


def test_each_kind_of_difference_is_named() -> None:
    s = _scenario("bike-theft")
    released = {"police": ["identity", "contact", "address", "identifier_pnc", "police_incidents",
                           "police_convictions", "contact_probation", "mental_health"]}  # fmt: skip
    got = expect.problems(s, POLICE, _police_view(released=released))
    assert "not yet released: ['probation', 'referral_details']" in got
    assert "released but should not be: ['mental_health']" in got
    got = expect.problems(s, POLICE, _police_view(withheld=[("mental_health", "SYS-SCREENING")]))
    assert any(p.startswith("mental_health should be withheld by DEFAULT-DENY") for p in got)
    assert any(p.startswith("health_summary should be withheld") for p in got)
    assert expect.problems(s, POLICE, _police_view(flags=[])) == [
        "flags [], expected ['release_within_28_days']"
    ]
    assert expect.problems(s, POLICE, _police_view(late=("police_incidents",))) == [
        "late information ['police_incidents'], expected []"
    ]
    # 4 working hours instead of the Amber 24: every agency's deadline is named.
    early = expect.problems(s, POLICE, _police_view(hours=4.0))
    assert len(early) == len(AGENCIES)
    assert all("expected 24 working hours after the referral was received (AMBER)" in p for p in early)
    wrong = expect.problems(s, POLICE, _police_view(purpose="SCREENING"))
    assert any(p.startswith("enquiries (agency, purpose)") for p in wrong)


def test_deadlines_run_in_working_hours() -> None:
    # 24 working hours from 10:00 on Thursday 26 November 2026: Thursday's 7, Friday's 8, Monday's 8 and
    # one more on Tuesday (the clock is Europe/London, GMT in November).
    assert expect.CLOCK.add(RECEIVED, 24.0) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


def test_the_expected_enquiries_include_those_a_step_sends() -> None:
    late = _scenario("late-police-return")
    assert late.enquiries == [(a, "TRIAGE") for a in AGENCIES] + [("police", "LATE_INFORMATION")]
    again = _scenario("re-referral")
    assert again.enquiries == [(a, "TRIAGE") for a in AGENCIES] * 2
    strategy = _scenario("strategy-discussion")
    assert strategy.enquiries == [(a, "TRIAGE") for a in AGENCIES] + [
        (a, "STRATEGY_DISCUSSION") for a in AGENCIES
    ]


def test_an_added_subject_s_enquiry_is_due_from_when_it_was_asked() -> None:
    s = _scenario("late-police-return")
    view = _view({}, [], [], 24.0)
    later = RECEIVED + timedelta(days=1)
    view["enquiries"].append(_enquiry("police", 24.0, "LATE_INFORMATION", sent=later))
    assert not [p for p in expect._enquiries(s, view) if "deadline" in p]
    view["enquiries"][-1]["deadline"] = expect.CLOCK.add(later, 48.0).isoformat()
    assert any("after the referral was asked" in p for p in expect._enquiries(s, view))


def test_a_desk_not_told_of_every_agency_judges_a_later_enquiry_as_later() -> None:
    # The health desk is not shown two agencies' enquiries, so the late police enquiry is only its sixth.
    s = _scenario("late-police-return")
    untold = frozenset(AGENCIES[-2:])
    view = _view({}, [], [], 24.0)
    view["enquiries"] = [e for e in view["enquiries"] if e["agency"] not in untold]
    later = RECEIVED + timedelta(hours=2)  # same working day: its deadline is two hours after the others
    view["enquiries"].append(_enquiry("police", 24.0, "LATE_INFORMATION", sent=later))
    assert not [p for p in expect._enquiries(s, view, untold) if "deadline" in p]
    # The referral's own police enquiry is still held to the deadline from when the referral came in.
    view["enquiries"][0]["deadline"] = expect.CLOCK.add(later, 24.0).isoformat()
    assert any("after the referral was received" in p for p in expect._enquiries(s, view, untold))


def test_an_unassigned_subscriber_must_have_no_view() -> None:
    s = _scenario("bike-theft")
    assert PARTNER in s.unassigned
    assert expect.problems(s, PARTNER, None) == []
    assert expect.problems(s, PARTNER, _police_view()) == [
        "a subscriber not assigned to the referral has a view of it"
    ]
    assert expect.problems(s, CSC, None) == ["no view yet"]


def test_steps_wait_for_the_desks_the_answers_and_a_late_step_for_the_decision() -> None:
    p = Progress(_scenario("late-police-return"), desks=(POLICE,), assigned=(POLICE,))
    p.views[CSC] = _view({}, [], [], 24.0)
    assert not p.ready()  # a desk is still to be assigned
    p.desks = ()
    assert not p.ready()  # and then to be given the referral
    p.views[POLICE] = _view({}, [], [], 24.0)
    assert p.ready()
    p.views.pop(CSC)
    assert not p.ready()  # no view yet
    waiting = _view({}, [], [], 24.0)
    waiting["enquiries"][0]["outstanding"] = True
    p.views[CSC] = waiting
    assert not p.ready()
    p.views[CSC] = _view({}, [], [], 24.0)
    assert p.ready()  # the decision
    p.taken = 1
    assert not p.ready()  # the subject added waits for the decision to show
    p.views[CSC] = _view({}, [], [], 24.0, outcome="NO_FURTHER_ACTION")
    assert p.ready()
    p.taken = 2
    assert p.stepped
    assert not p.ready()


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
