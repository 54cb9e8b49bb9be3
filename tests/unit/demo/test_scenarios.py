"""The scenarios as data: valid identifiers, and every referral subject matched by every agency that holds
them without a person's review, however that agency spells them."""

from __future__ import annotations

from datetime import date

import pytest

from connectors.sdk.identifiers import normalise_nhs, normalise_pnc, normalise_upn
from connectors.sdk.matching import Matcher, Person, Subject
from jigsaw.wire.categories import CATEGORIES
from town.deployment import AGENCIES
from town.scenarios import SUBSCRIBERS, scenarios

TODAY = date(2026, 11, 26)
ALL = scenarios(TODAY)


def test_seven_referrals_cover_the_six_scenarios() -> None:
    assert [s.key for s in ALL] == [
        "bike-theft", "drug-house", "sex-offender", "domestic-abuse", "early-help", "early-help-refused",
        "anonymous-caller",
    ]  # fmt: skip


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_identifiers_are_valid_and_unique(scenario) -> None:  # type: ignore[no-untyped-def]
    for p in scenario.household.people:
        assert p.nhs is not None
        assert normalise_nhs(p.nhs) == p.nhs
        assert p.upn is None or normalise_upn(p.upn) == p.upn
        assert p.pnc is None or normalise_pnc(p.pnc) == p.pnc
    every = [i for s in ALL for p in s.household.people for i in (p.nhs, p.upn, p.pnc) if i]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_held_items_name_real_categories_agencies_and_people(scenario) -> None:  # type: ignore[no-untyped-def]
    keys = {p.key for p in scenario.household.people}
    for held in scenario.household.held:
        assert held.source.partition(".")[0] in CATEGORIES
        assert held.agency in AGENCIES
        assert held.person in keys
        assert held.agency in scenario.person(held.person).known_to
    assert set(scenario.expect) | set(scenario.unassigned) == set(SUBSCRIBERS)
    assert set(scenario.assign) == set(scenario.expect)


CASES = [
    (s, sub, agency) for s in ALL for sub in s.subjects for agency in sorted(s.person(sub.person).known_to)
]


@pytest.mark.parametrize(
    ("scenario", "subject", "agency"), CASES, ids=lambda v: getattr(v, "key", getattr(v, "ref", v))
)
def test_each_agency_matches_each_subject_it_holds_without_review(scenario, subject, agency) -> None:  # type: ignore[no-untyped-def]
    p = scenario.person(subject.person)
    spelled = p.spellings.get(agency)
    given = (subject.given_names or p.given_names, subject.family_name or p.family_name)
    ref = next(r for r in scenario.referral()["subjects"] if r["subject_ref"] == subject.ref)
    enquiry = Subject(
        subject_ref=subject.ref,
        given_names=given[0],
        family_name=given[1],
        dob=p.dob,
        postcode=p.address.postcode,
        pnc=ref.get("pnc"),
    )
    held = Person(
        source_id=p.key,
        given_names=spelled.given_names if spelled else p.given_names,
        family_name=spelled.family_name if spelled else p.family_name,
        dob=p.dob,
        postcode=p.address.postcode,
        pnc=p.pnc if agency in ("police", "probation") else None,
    )
    matcher = Matcher(threshold=0.9)
    best = matcher.best(enquiry, [held])
    assert best is not None
    assert not matcher.needs_review(best), (best.confidence, best.reasons)
