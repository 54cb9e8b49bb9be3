"""The scenarios as data: valid identifiers, every referral subject (and every subject added mid-way)
matched by every agency that holds them without a person's review, however that agency spells them; every
request body one the front door's API accepts; and every expectation stated in the agreement's terms, with
the rule that explains it."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
from pydantic import BaseModel

from connectors.sdk.identifiers import normalise_nhs, normalise_pnc, normalise_upn
from connectors.sdk.matching import Matcher, Person, Subject
from jigsaw.wire.categories import CATEGORIES
from services.broker.policy import SystemRule, load_policy
from services.hub.api import models
from town.deployment import AGENCIES, POLICY
from town.scenarios import SUBSCRIBERS, Scenario, households, scenarios

TODAY = date(2026, 11, 26)
ALL = scenarios(TODAY)
AGREEMENT = load_policy(POLICY)
RULE_IDS = {r.id for r in AGREEMENT.rules} | {r.value for r in SystemRule}
# What each step's body is, as the front door's API reads it (services/hub/api/writes.py).
STEP_MODELS: dict[str, type[BaseModel]] = {
    "decision": models.DecisionIn,
    "strategy-discussion": models.StrategyIn,
    "consent": models.ConsentIn,
    "assignments": models.AssignIn,
    "subjects": models.SubjectAddedIn,
    "confidential-address": models.MarkerIn,
    "rag": models.RagIn,
}
CITES_A_RULE = re.compile(r"\b(R-[A-Z0-9-]+|SYS-[A-Z-]+|DEFAULT-DENY)\b")


def test_the_scenarios_and_their_order() -> None:
    # The first contact comes before its re-referral: the demo opens them in this order.
    assert [s.key for s in ALL] == [
        "bike-theft", "drug-house", "sex-offender", "domestic-abuse", "early-help", "early-help-refused",
        "anonymous-caller", "late-police-return", "strategy-discussion", "fled-victim",
        "professional-referrer", "public-referrer", "young-person-refuses", "scoped-answers",
        "first-contact", "re-referral",
    ]  # fmt: skip


def test_a_shared_household_is_written_once() -> None:
    again = next(s for s in ALL if s.key == "re-referral")
    first = next(s for s in ALL if s.key == "first-contact")
    assert again.shares_household
    assert again.household is first.household
    keys = [h.key for h in households(TODAY)]
    assert len(keys) == len(set(keys)) == len(ALL) - 1


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_identifiers_are_valid_and_unique(scenario: Scenario) -> None:
    for p in scenario.household.people:
        assert p.nhs is not None
        assert normalise_nhs(p.nhs) == p.nhs
        assert p.upn is None or normalise_upn(p.upn) == p.upn
        assert p.pnc is None or normalise_pnc(p.pnc) == p.pnc
    every = [i for h in households(TODAY) for p in h.people for i in (p.nhs, p.upn, p.pnc) if i]
    assert len(every) == len(set(every))


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_held_items_name_real_categories_agencies_and_people(scenario: Scenario) -> None:
    keys = {p.key for p in scenario.household.people}
    for held in scenario.household.held:
        assert held.source.partition(".")[0] in CATEGORIES
        assert held.agency in AGENCIES
        assert held.person in keys
        assert held.agency in scenario.person(held.person).known_to
    assert set(scenario.expect) | set(scenario.unassigned) == set(SUBSCRIBERS)
    assert set(scenario.assign) == set(scenario.expect)


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_every_request_is_one_the_front_door_accepts(scenario: Scenario) -> None:
    models.ReferralIn.model_validate(scenario.referral())
    for step in scenario.steps:
        STEP_MODELS[step.path].model_validate(step.body)


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_every_desk_is_assigned_at_intake_or_by_a_step(scenario: Scenario) -> None:
    first = set(scenario.initial_assign or scenario.assign)
    later = {s for step in scenario.steps if step.path == "assignments" for s in step.body["subscribers"]}
    assert first <= set(scenario.assign)
    assert first | later == set(scenario.assign)


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_a_step_after_the_decision_has_a_decision_before_it(scenario: Scenario) -> None:
    for n, step in enumerate(scenario.steps):
        if step.after_decision:
            assert any(s.path == "decision" for s in scenario.steps[:n])
        if step.agencies:
            assert step.enquiry_purpose in AGREEMENT.purposes


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_each_expectation_is_in_the_agreement_s_terms_and_says_why(scenario: Scenario) -> None:
    for subscriber, e in scenario.expect.items():
        role = AGREEMENT.subscribers[subscriber].role
        assert e.sees <= set(CATEGORIES), subscriber
        assert set(e.withheld) <= set(CATEGORIES), subscriber
        assert {r for c in e.withheld for r in e.rules(c)} <= RULE_IDS, subscriber
        assert e.not_told <= set(AGENCIES), subscriber
        assert e.late <= e.sees, subscriber
        assert CITES_A_RULE.search(e.why), f"{subscriber}: the why names no rule"
        for category in e.sees:
            # Whatever a desk sees, some rule of the agreement gives its role (typos and wishful thinking).
            assert any(role in r.roles and category in r.categories for r in AGREEMENT.rules), (
                subscriber,
                category,
            )


@pytest.mark.parametrize("scenario", ALL, ids=lambda s: s.key)
def test_a_desk_that_may_not_know_an_agency_s_involvement_is_not_told_it_answered(scenario: Scenario) -> None:
    """Known to probation at all is probation's fact (the agreement's participant ``reveals``): a desk that
    may know it for no purpose of the case is never told that the agency answered."""
    for subscriber, e in scenario.expect.items():
        for agency in e.not_told:
            participant = next(p for p in AGREEMENT.participants.values() if p.agency == agency)
            assert participant.reveals is not None
            purposes = {r_p for r in AGREEMENT.rules for r_p in r.purposes}
            assert not any(AGREEMENT.may_know(subscriber, participant.reveals, p) for p in purposes), (
                subscriber,
                agency,
            )


def test_the_issue_s_points_each_have_a_scenario() -> None:
    """Issue #15: late information, a strategy discussion whatever the RAG, a confidential address, both
    kinds of referrer, consent per person, scoped screening answers, the person index."""
    by_key = {s.key: s for s in ALL}
    assert by_key["late-police-return"].expect["csc-mash"].late
    assert any(s.path == "strategy-discussion" for s in by_key["strategy-discussion"].steps)
    assert by_key["strategy-discussion"].rag == "GREEN"
    fled = by_key["fled-victim"].expect["police-mash"].withheld
    assert fled["address"] == fled["housing"] == SystemRule.CONFIDENTIAL_ADDRESS
    assert by_key["public-referrer"].referrer_type == "PUBLIC"
    assert by_key["professional-referrer"].expect["csc-mash"].sees >= {"referrer_identity"}
    refusals = [s.body for s in by_key["young-person-refuses"].steps if s.path == "consent"]
    assert {(b["subject_ref"], b["kind"]) for b in refusals} == {
        ("S2", "CONSENT_REFUSED"),
        ("S3", "CONSENT_GIVEN"),
    }
    # Answers naming what a desk may not know are not released to it at all (audited SYS-SCOPED-CONTACT).
    scoped = by_key["scoped-answers"].expect
    assert "contact_mental_health" in scoped["health-mash"].sees
    assert not {"contact_mental_health", "contact_probation"} & (
        set(scoped["partner-hub"].sees) | set(scoped["partner-hub"].withheld)
    )
    assert "probation" in scoped["partner-hub"].not_told
    assert "re_referral_within_12_months" in by_key["re-referral"].expect["csc-mash"].flags
    overrides = [s.body["kind"] for s in by_key["early-help-refused"].steps if s.path == "consent"]
    assert "SAFEGUARDING_OVERRIDE" in overrides


def _subjects(scenario: Scenario) -> list[tuple[str, dict[str, Any], tuple[str, ...]]]:
    """(person key, what the MASH gives of them, the agencies asked) for each subject, added ones too."""
    people = {(p.given_names, p.family_name, p.dob.isoformat()): p.key for p in scenario.household.people}
    out = []
    for ref in scenario.referral()["subjects"]:
        s = next(x for x in scenario.subjects if x.ref == ref["subject_ref"])
        out.append((s.person, ref, AGENCIES))
    for step in scenario.steps:
        if step.path == "subjects":
            given = step.body["subject"]
            out.append(
                (people[(given["given_names"], given["family_name"], given["dob"])], given, step.agencies)
            )
    return out


CASES = [
    (s, key, given, agency)
    for s in ALL
    for key, given, asked in _subjects(s)
    for agency in sorted(s.person(key).known_to)
    if agency in asked
]


@pytest.mark.parametrize(
    ("scenario", "key", "given", "agency"),
    CASES,
    ids=[f"{c[0].key}-{c[2]['subject_ref']}-{c[3]}" for c in CASES],
)
def test_each_agency_asked_matches_each_subject_it_holds_without_review(
    scenario: Scenario, key: str, given: dict[str, Any], agency: str
) -> None:
    p = scenario.person(key)
    spelled = p.spellings.get(agency)
    enquiry = Subject(
        subject_ref=given["subject_ref"],
        given_names=given["given_names"],
        family_name=given["family_name"],
        dob=p.dob,
        postcode=given.get("postcode"),
        pnc=given.get("pnc"),
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
