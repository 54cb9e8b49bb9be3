"""Subject matching: exact on validated identifiers first, then scored, with anything uncertain to REVIEW."""

from __future__ import annotations

import dataclasses
import json
import random
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.sdk.matching import Match, Matcher, MatchMethod, Person, Subject, needs_review
from town.ids import make_nhs, make_pnc, make_upn

DOB = date(2014, 3, 9)
RNG = random.Random(20240501)
NHS_A, NHS_B = make_nhs(RNG), make_nhs(RNG)
INVALID_NHS = "9434765918"  # 9434765919 with a wrong check digit
SCHEMAS = Path(__file__).resolve().parents[3] / "schemas" / "body"

matcher = Matcher()
everything = Matcher(floor=0.0)  # scores every candidate, so comparisons do not depend on the floor


def subject(**changes: object) -> Subject:
    base = Subject("s1", "William", "Hartley", DOB, "LS6 2AB")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def person(source_id: str = "p1", **changes: object) -> Person:
    base = Person(source_id, "William", "Hartley", DOB, "LS6 2AB")
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def score(s: Subject, p: Person) -> Match:
    [found] = everything.match(s, [p])
    return found


def _enum_symbols(node: object, name: str) -> list[str] | None:
    if isinstance(node, dict):
        if node.get("type") == "enum" and node.get("name") == name:
            return list(node["symbols"])
        node = list(node.values())
    if isinstance(node, list):
        found = (_enum_symbols(child, name) for child in node)
        return next((symbols for symbols in found if symbols is not None), None)
    return None


@pytest.mark.parametrize("schema", sorted(SCHEMAS.glob("IntelReturn.v*.avsc")))
def test_method_constants_are_the_wire_enum_symbols(schema: Path) -> None:
    symbols = _enum_symbols(json.loads(schema.read_text()), "MatchMethod")
    assert symbols is not None
    assert {v for k, v in vars(MatchMethod).items() if k.isupper()} == set(symbols)


def test_exact_nhs_match_wins_over_a_better_name_match() -> None:
    by_nhs = person("health-1", given_names="Bill", family_name="Hartly", postcode=None, nhs=NHS_A)
    by_name = person("health-2")  # identical demographics, no NHS number recorded
    ranked = matcher.match(subject(nhs=f"{NHS_A[:3]} {NHS_A[3:6]} {NHS_A[6:]}"), [by_name, by_nhs])
    assert [(m.person.source_id, m.method) for m in ranked] == [
        ("health-1", MatchMethod.EXACT_NHS),
        ("health-2", MatchMethod.PROBABILISTIC),
    ]
    assert ranked[0].confidence == 1.0
    assert ranked[1].confidence < 1.0
    assert not matcher.needs_review(ranked[0])


@pytest.mark.parametrize(
    ("kind", "value", "method"),
    [
        ("upn", make_upn(random.Random(1), 801, 2000, 19), MatchMethod.EXACT_UPN),
        ("pnc", make_pnc(random.Random(1), 2019), MatchMethod.EXACT_PNC),
        ("ni", "AB123456C", MatchMethod.EXACT_NI),
        ("local_id", " CS-000123 ", MatchMethod.EXACT_LOCAL_ID),
    ],
)
def test_each_validated_identifier_matches_exactly(kind: str, value: str, method: str) -> None:
    stranger = person(given_names="Zara", family_name="Okafor", dob=date(2009, 1, 1), postcode=None)
    enquired = value.strip() if kind == "local_id" else value.lower()  # local ids may be case-sensitive
    record = dataclasses.replace(stranger, **{kind: value})  # type: ignore[arg-type]
    found = matcher.best(subject(**{kind: enquired}), [record])
    assert found is not None
    assert (found.method, found.confidence) == (method, 1.0)


def test_nhs_takes_priority_over_other_identifiers() -> None:
    pnc = make_pnc(random.Random(2), 2012)
    found = matcher.best(subject(nhs=NHS_A, pnc=pnc), [person(nhs=NHS_A, pnc=pnc)])
    assert found is not None
    assert found.method == MatchMethod.EXACT_NHS


def test_an_invalid_nhs_number_is_not_used_for_exact_matching() -> None:
    stranger = person(given_names="Zara", family_name="Okafor", dob=date(2009, 1, 1), nhs=INVALID_NHS)
    assert matcher.match(subject(nhs=INVALID_NHS), [stranger]) == []
    found = matcher.best(subject(nhs=INVALID_NHS), [person(nhs=INVALID_NHS)])
    assert found is not None
    assert found.method == MatchMethod.PROBABILISTIC
    assert "subject nhs invalid, ignored" in found.reasons
    assert "candidate nhs invalid, ignored" in found.reasons


def test_an_invalid_nhs_number_is_not_evidence_of_a_different_person() -> None:
    found = matcher.best(subject(nhs=INVALID_NHS), [person(nhs=NHS_A)])
    assert found is not None
    assert found.confidence >= matcher.threshold
    assert not any("conflicts" in reason for reason in found.reasons)


@pytest.mark.parametrize(
    ("enquiry", "record", "evidence"),
    [
        (("Jonathon", "Hartley"), ("Jonathan", "Hartley"), "given name similar"),  # typo
        (("Bill", "Hartley"), ("William", "Hartley"), "given name is a known nickname"),
        (("Peggy", "Hartley"), ("Margaret", "Hartley"), "given name is a known nickname"),
        (("Amelia", "Smith-Jones"), ("Amelia", "Jones"), "family name shares a part"),
        (("Amelia", "Smith Jones"), ("Amelia", "Smith-Jones"), "family name agrees"),
        (("Hartley", "William"), ("William", "Hartley"), "names swapped"),
        (("Zoë", "O'Brien"), ("ZOE", "OBRIEN"), "family name agrees"),  # accents, apostrophes, case
        (("D'Arcy Jane", "Hartley"), ("Darcy", "Hartley"), "given name agrees"),
        (("Sinéad Marie", "Hartley"), ("SINEAD", "Hartley"), "given name agrees"),
        (("Mary-Jane", "Hartley"), ("Maryjane", "Hartley"), "given name agrees"),
        (
            ("Rose", "Hartley"),
            ("Amelia Rose", "Hartley"),
            "another given name agrees",
        ),  # known by a middle name
    ],
)
def test_realistic_variants_match_with_the_same_dob(
    enquiry: tuple[str, str], record: tuple[str, str], evidence: str
) -> None:
    target = person("target", given_names=record[0], family_name=record[1], postcode=None)
    decoy = person("decoy", given_names="Oliver", family_name="Price", dob=date(2014, 7, 22))
    ranked = matcher.match(subject(given_names=enquiry[0], family_name=enquiry[1]), [decoy, target])
    assert [m.person.source_id for m in ranked] == ["target"]
    assert ranked[0].method == MatchMethod.PROBABILISTIC
    assert ranked[0].confidence >= matcher.threshold  # same date of birth: no review needed
    assert evidence in ranked[0].reasons


def test_shared_surname_particles_are_not_a_shared_part() -> None:
    found = score(subject(family_name="de Souza"), person(family_name="de Silva"))
    assert "family name differs" in found.reasons
    assert matcher.needs_review(found)


def test_swapped_names_are_reported() -> None:
    assert "names swapped" in score(subject(given_names="Hartley", family_name="William"), person()).reasons
    assert "names swapped" not in score(subject(), person()).reasons


def test_same_name_with_different_dob_and_postcode_is_not_a_match() -> None:
    other = person(dob=date(2011, 10, 27), postcode="M14 5RT")
    assert score(subject(), other).confidence < matcher.threshold
    assert matcher.match(subject(), [other]) == []


def test_common_name_neighbours_with_different_dobs_are_not_confused() -> None:
    enquiry = subject(given_names="Jack", family_name="Smith", dob=date(2015, 6, 2))
    right = person("right", given_names="Jack", family_name="Smith", dob=date(2015, 6, 2))
    neighbour = person("neighbour", given_names="Jack", family_name="Smith", dob=date(2012, 11, 19))
    ranked = matcher.match(enquiry, [neighbour, right])
    assert [m.person.source_id for m in ranked] == ["right"]
    assert ranked[0].confidence >= matcher.threshold
    assert score(enquiry, neighbour).confidence < matcher.floor


def test_twins_with_different_given_names_are_never_matched_without_review() -> None:
    enquiry = subject(given_names="Olivia")
    twin = person("twin", given_names="Sophie")
    ranked = matcher.match(enquiry, [twin, person("olivia", given_names="Olivia")])
    assert ranked[0].person.source_id == "olivia"
    assert not matcher.needs_review(ranked[0])
    assert all(m.confidence < matcher.threshold for m in ranked[1:])
    assert score(enquiry, twin).confidence < matcher.threshold


def test_a_conflicting_valid_nhs_number_prevents_a_match() -> None:
    same_demographics = person(nhs=NHS_B)
    assert score(subject(), same_demographics).confidence >= matcher.threshold  # without the conflict
    found = score(subject(nhs=NHS_A), same_demographics)
    assert found.method == MatchMethod.PROBABILISTIC
    assert found.confidence < matcher.threshold
    assert "nhs conflicts" in found.reasons
    assert matcher.needs_review(found)


@pytest.mark.parametrize("threshold", [0.6, 0.75, 0.9])
def test_a_conflict_is_never_accepted_whatever_the_threshold(threshold: float) -> None:
    lenient = Matcher(threshold=threshold, floor=0.0)
    [found] = lenient.match(subject(nhs=NHS_A), [person(nhs=NHS_B)])
    assert found.confidence < threshold
    assert lenient.needs_review(found)


def test_a_conflict_weighs_heavily_against_not_just_capped() -> None:
    # Perfect demographics would otherwise be capped just below the threshold; the conflict pulls far lower.
    assert score(subject(nhs=NHS_A), person(nhs=NHS_B)).confidence < matcher.threshold - 0.1
    assert matcher.match(subject(nhs=NHS_A, postcode=None), [person(nhs=NHS_B)]) == []


def test_a_conflicting_identifier_blocks_an_exact_match_on_another() -> None:
    pnc = make_pnc(random.Random(3), 2010)
    found = score(subject(nhs=NHS_A, pnc=pnc), person(nhs=NHS_B, pnc=pnc))
    assert found.method == MatchMethod.PROBABILISTIC
    assert found.confidence < matcher.threshold


def test_a_temporary_upn_does_not_conflict_with_the_permanent_one() -> None:
    temporary = make_upn(random.Random(4), 801, 2000, 19, temporary=True)
    permanent = make_upn(random.Random(4), 801, 2000, 20)
    assert "upn conflicts" not in score(subject(upn=temporary), person(upn=permanent)).reasons
    other = make_upn(random.Random(5), 801, 2000, 21)
    assert "upn conflicts" in score(subject(upn=permanent), person(upn=other)).reasons


@pytest.mark.parametrize(
    ("enquiry", "record"),
    [
        (subject(), person(dob=date(2014, 9, 3))),  # day and month transposed
        (subject(), person(dob=date(2015, 3, 9))),  # year mistyped
        (subject(), person(dob=None)),
        (subject(given_names="Tom"), person(given_names="Tim")),  # given names only sound alike
        (subject(family_name="Smyth"), person(family_name="Smith")),
        (subject(given_names=""), person()),
    ],
)
def test_partial_evidence_goes_to_review(enquiry: Subject, record: Person) -> None:
    found = matcher.best(enquiry, [record])
    assert found is not None
    assert matcher.floor < found.confidence < matcher.threshold
    assert matcher.needs_review(found)


@pytest.mark.parametrize(
    ("enquiry", "record", "evidence"),
    [
        (subject(given_names="Tom"), person(given_names="Tim"), "given name sounds alike"),
        (subject(family_name="Smyth"), person(family_name="Smith"), "family name sounds alike"),
        (subject(family_name="Price"), person(), "family name differs"),  # a surname changed in care
    ],
)
def test_weak_name_evidence_is_named_in_the_reasons(enquiry: Subject, record: Person, evidence: str) -> None:
    found = matcher.best(enquiry, [dataclasses.replace(record, postcode=None)])
    assert found is not None
    assert evidence in found.reasons
    assert matcher.needs_review(found)


def test_a_different_surname_at_the_same_address_is_not_a_candidate_when_dob_is_unknown() -> None:
    assert matcher.match(subject(family_name="Price", dob=None), [person()]) == []


def test_a_sibling_at_the_same_address_is_not_a_candidate_when_dob_is_unknown() -> None:
    assert matcher.match(subject(given_names="Olivia", dob=None), [person(given_names="Sophie")]) == []


def test_father_and_son_with_the_same_name_and_address_need_review() -> None:
    found = matcher.best(subject(dob=None), [person(dob=date(1981, 5, 14))])
    assert found is None or matcher.needs_review(found)


names = st.sampled_from(["William", "Bill", "Wiliam", "Liam", "Oliver", "Hartley William", ""])
surnames = st.sampled_from(["Hartley", "Hartly", "Smith-Hartley", "Price", "William", ""])
dobs = st.sampled_from([DOB, date(2014, 9, 3), date(2015, 3, 9), date(2010, 1, 30), None])
postcodes = st.sampled_from(["LS6 2AB", "LS6 9ZZ", "M14 5RT", "not a postcode", None])
nhs_numbers = st.sampled_from([None, NHS_A, NHS_B, INVALID_NHS])


@given(names, surnames, dobs, nhs_numbers, st.sampled_from(["LS6 2AB", "LS6 9ZZ"]))
def test_an_agreeing_postcode_never_lowers_confidence(
    given_names: str, family: str, dob: date | None, nhs: str | None, agreeing: str
) -> None:
    enquiry = subject(postcode=agreeing, nhs=NHS_A)
    record = person(given_names=given_names, family_name=family, dob=dob, nhs=nhs)
    missing = score(enquiry, dataclasses.replace(record, postcode=None)).confidence
    assert score(enquiry, dataclasses.replace(record, postcode=agreeing)).confidence >= missing
    assert score(enquiry, dataclasses.replace(record, postcode="LS6 1QQ")).confidence >= missing


@given(names, surnames, dobs, postcodes, nhs_numbers)
def test_confidence_is_a_probability_and_only_exact_matches_reach_one(
    given_names: str, family: str, dob: date | None, postcode: str | None, nhs: str | None
) -> None:
    record = person(given_names=given_names, family_name=family, dob=dob, postcode=postcode, nhs=nhs)
    found = score(subject(nhs=NHS_A), record)
    assert 0.0 <= found.confidence <= 1.0
    assert (found.confidence == 1.0) == (found.method == MatchMethod.EXACT_NHS)
    assert needs_review(found) == (found.method == MatchMethod.PROBABILISTIC and found.confidence < 0.9)


def test_reasons_never_carry_personal_data() -> None:
    enquiry = subject(given_names="Jonathon", nhs=NHS_A, upn="B801200005001", postcode="LS6 2AB")
    record = person(given_names="Jonathan", nhs=NHS_B, upn="A801200005001", dob=date(2014, 9, 3))
    text = " ".join(score(enquiry, record).reasons).lower()
    for value in ("jonath", "hartley", "ls6", NHS_A, NHS_B, "801200005001", "2014"):
        assert value.lower() not in text


def test_results_are_sorted_best_first_and_ties_by_source_id() -> None:
    ranked = matcher.match(subject(), [person("b"), person("a"), person("c", postcode="LS6 9ZZ")])
    assert [m.person.source_id for m in ranked] == ["a", "b", "c"]
    assert ranked[0].confidence == ranked[1].confidence > ranked[2].confidence


def test_a_stricter_threshold_sends_more_to_review() -> None:
    found = score(subject(given_names="Jonathon"), person(given_names="Jonathan", postcode=None))
    assert not matcher.needs_review(found)
    assert Matcher(threshold=0.99999).needs_review(found)


def test_no_candidates_gives_no_match() -> None:
    assert matcher.match(subject(), []) == []
    assert matcher.best(subject(), iter([])) is None


@pytest.mark.parametrize(("threshold", "floor"), [(0.9, 0.9), (0.9, 0.895), (1.01, 0.5), (0.9, -0.1)])
def test_matcher_refuses_inconsistent_settings(threshold: float, floor: float) -> None:
    with pytest.raises(ValueError, match="floor"):
        Matcher(threshold=threshold, floor=floor)


def test_a_threshold_of_one_sends_every_probabilistic_match_to_review() -> None:
    strict = Matcher(threshold=1.0)
    assert strict.needs_review(score(subject(), person()))
    assert not strict.needs_review(score(subject(nhs=NHS_A), person(nhs=NHS_A)))
