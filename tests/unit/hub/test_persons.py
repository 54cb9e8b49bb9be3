"""The front door's person index, built by the consumer from what is released to it: a keyed hash of a
person, never a name, linking the referrals they were a subject of; re-referral within 12 months, a
previous child removed, and subjects added mid-way joining it."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from devkit.testkit.wire import World
from jigsaw.bus.store import Store
from jigsaw.wire.codec import SchemaRegistry
from jigsaw.wire.envelope import SectionInput
from jigsaw.wire.framing import micros
from services.hub.persons import PersonIndex, load_secret, normalise_name, valid_nhs
from services.hub.subjects import SubjectIn
from services.hub.view import render
from tests.unit.hub.kit import Consumer, hub_world, open_store, release, seal

pytestmark = pytest.mark.usefixtures("store_backend")

NHS = "9434765919"  # a valid NHS number (NHS Data Model and Dictionary's modulus 11 example)
CHILD = SubjectIn("S1", "CHILD", "Callum", "Hartley", date(2014, 3, 2), nhs=NHS)
MOTHER = SubjectIn("S2", "PARENT", "Jo", "O'Neill-Hartley", date(1990, 1, 5))


@pytest.fixture
def world(registry: SchemaRegistry) -> World:
    return hub_world(registry)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "hub.sqlite")
    yield s
    s.close()


def _rid(n: int) -> str:
    return f"R-{n:032x}"


def _refer(world: World, hub: Consumer, rid: str, received: datetime, *subjects: SubjectIn) -> None:
    body = {
        "source_type": "SCHOOL",
        "rag": "AMBER",
        "received_at": micros(received),
        "concerns": ["NEGLECT"],
        "subject_refs": [s.ref() for s in subjects],
        "existing_social_worker": False,
    }
    sections = [x for s in subjects for x in s.sections()]
    hub.feed(rid, release(world, seal(world, "hub.devon", "REFERRAL", rid, body, sections), rid))


def _flags(hub: Consumer, rid: str) -> set[str]:
    view = render(hub.store.conn, rid, micros(datetime(2027, 12, 1, tzinfo=UTC)))
    assert view is not None
    return {f["flag"] for f in view["flags"]}


def test_the_key_is_an_nhs_number_if_valid_else_family_name_and_birth_date() -> None:
    index = PersonIndex(b"s" * 32)
    nhs = {"identifiers": [{"scheme": "NHS", "value": "943 476 5919"}]}
    named = {
        "names": [{"family_name": "O'Neill", "given_names": "Mary Jo"}],
        **{"details": [{"date_of_birth": date(1990, 1, 5)}]},
    }
    respelt = {
        "names": [{"family_name": "oneill", "given_names": "mary-jo"}],
        "details": [{"date_of_birth": "1990-01-05"}],
    }
    assert index.key(named, nhs) == index.key(None, {"identifiers": [{"scheme": "NHS", "value": NHS}]})
    assert index.key(named, None) == index.key(respelt, None), "names are normalised"
    bad = {"identifiers": [{"scheme": "NHS", "value": "9434765918"}]}  # fails modulus 11
    assert index.key(named, bad) == index.key(named, None)
    assert index.key({"names": [], "details": [{"unborn": True}]}, None) is None
    surname_only = {"names": [{"family_name": "O'Neill"}], "details": [{"date_of_birth": date(1990, 1, 5)}]}
    assert index.key(surname_only, None) is None, "a surname and a birthday alone are many people"
    assert index.person(named, nhs) == (index.key(named, nhs), False)
    assert index.person(named, None) == (index.key(named, None), True), "no NHS number: probable"
    assert PersonIndex(b"t" * 32).key(named, None) != index.key(named, None), "keyed by the hub's secret"
    assert valid_nhs("1111111111") is None, "a repdigit passes the check but is a placeholder"
    assert normalise_name("Zoë O'Neill-Smith") == "zoeoneillsmith"


def test_the_secret_is_made_once_private_to_the_hub(tmp_path: Path) -> None:
    path = tmp_path / "state" / "hub-csc-mash-person-index.key"
    first = load_secret(path)
    assert load_secret(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_a_referral_within_12_months_of_a_previous_one_is_a_re_referral(
    world: World, store: Store
) -> None:
    """Children-in-need census: a referral within 12 months of a previous referral about the same child
    is a re-referral (DOMAIN.md, "Re-referral")."""
    hub = Consumer(world, store)
    _refer(world, hub, _rid(1), datetime(2026, 1, 10, tzinfo=UTC), CHILD)
    # Spelt differently the second time, with the same NHS number: the same child.
    again = SubjectIn("S1", "CHILD", "Calum", "Hartly", date(2014, 3, 2), nhs=NHS)
    _refer(world, hub, _rid(2), datetime(2026, 11, 30, tzinfo=UTC), again)
    assert "re_referral_within_12_months" in _flags(hub, _rid(2))
    assert "re_referral_within_12_months" not in _flags(hub, _rid(1)), (
        "a later referral is not a previous one"
    )


async def test_a_referral_13_months_after_the_previous_one_is_not_a_re_referral(
    world: World, store: Store
) -> None:
    """The census counts within 12 months; thirteen months on, it is a new referral."""
    hub = Consumer(world, store)
    _refer(world, hub, _rid(1), datetime(2025, 1, 10, tzinfo=UTC), CHILD)
    _refer(world, hub, _rid(2), datetime(2026, 2, 10, tzinfo=UTC), CHILD)
    assert "re_referral_within_12_months" not in _flags(hub, _rid(2))


async def test_the_index_holds_keys_and_refs_never_names(world: World, store: Store) -> None:
    hub = Consumer(world, store)
    _refer(world, hub, _rid(1), datetime(2026, 1, 10, tzinfo=UTC), CHILD, MOTHER)
    rows = store.conn.execute("SELECT * FROM person_index").fetchall()
    assert {r[2] for r in rows} == {"S1", "S2"}
    text = repr(rows)
    for personal in ("Callum", "Hartley", NHS, "2014-03-02"):
        assert personal not in text


async def test_a_partner_hub_keeps_no_person_index(world: World, tmp_path: Path) -> None:
    """The person index is the front door's alone."""
    s = open_store(tmp_path / "partner.sqlite")
    hub = Consumer(world, s, index=False)
    _refer(world, hub, _rid(1), datetime(2026, 1, 10, tzinfo=UTC), CHILD)
    assert s.conn.execute("SELECT count(*) FROM person_index").fetchone() == (0,)
    s.close()


def _removal(subject: str) -> dict[str, Any]:
    removed = {
        "kind": "FACT",
        "source": "LCS",
        "recorded_on": date(2020, 1, 1),
        "removed_on": date(2019, 6, 1),
    }
    return {"subject_ref": subject, "children_removed": [{**removed, "order": "care order"}]}


async def test_a_previous_child_removed_from_a_parent_is_flagged_from_another_referral(
    world: World, store: Store
) -> None:
    """A previous child removed from the parent's care raises the risk of a new contact sharply
    (DOMAIN.md, "Re-referral"): the parent's social-care history in an earlier referral counts."""
    hub = Consumer(world, store)
    _refer(world, hub, _rid(1), datetime(2024, 1, 10, tzinfo=UTC), MOTHER)
    body: dict[str, Any] = {
        "enquiry_id": None,
        "agency": "socialcare",
        "unsolicited": True,
        "connector_version": "t",
        "matches": [],
        "nothing_held_categories": [],
    }
    history = [SectionInput("social_care_history", _removal("S2"))]
    world.add("socialcare.devon", "AGENCY_CONNECTOR", "socialcare")
    returned = seal(world, "socialcare.devon", "INTEL", _rid(1), body, history)
    hub.feed(_rid(1), release(world, returned, _rid(1), decision="D-2"))
    baby = SubjectIn(
        "S1", "CHILD", unborn=True, expected_date_of_delivery=date(2027, 1, 1), mother_subject_ref="S2"
    )
    _refer(world, hub, _rid(2), datetime(2026, 11, 1, tzinfo=UTC), MOTHER, baby)
    assert "previous_child_removed" in _flags(hub, _rid(2))
    assert "re_referral_within_12_months" not in _flags(hub, _rid(2)), "the unborn child has no key"


async def test_a_subject_added_mid_way_joins_the_index(world: World, store: Store) -> None:
    """A sibling added to a case after intake is indexed like any subject, so their own earlier referral
    shows as a re-referral on the case they join (issue #15, "siblings or household members added")."""
    hub = Consumer(world, store)
    sibling = SubjectIn("S1", "CHILD", "Amy", "Hartley", date(2012, 5, 5))
    _refer(world, hub, _rid(1), datetime(2026, 3, 1, tzinfo=UTC), sibling)
    _refer(world, hub, _rid(2), datetime(2026, 6, 1, tzinfo=UTC), CHILD)
    assert "re_referral_within_12_months" not in _flags(hub, _rid(2))
    added = SubjectIn("S5", "SIBLING", "Amy", "Hartley", date(2012, 5, 5))
    body: dict[str, Any] = {
        "decision_id": "D-9",
        "kind": "SUBJECT_ADDED",
        "rag_from": None,
        "rag_to": None,
        "outcome": None,
        "reason": "",
        "decided_by": "",
        "decided_at": micros(datetime(2026, 6, 2, tzinfo=UTC)),
        "referrer_feedback": None,
        "review_target": None,
        "subject_ref": "S5",
        "subject_role": "SIBLING",
        "subject_unborn": False,
        "marker_lifted": False,
    }
    decision = seal(world, "hub.devon", "DECISION", _rid(2), body, added.sections())
    hub.feed(_rid(2), release(world, decision, _rid(2), decision="D-3"))
    assert "re_referral_within_12_months" in _flags(hub, _rid(2))
    view = render(store.conn, _rid(2), micros(datetime(2026, 7, 1, tzinfo=UTC)))
    assert view is not None
    assert {s["subject_ref"]: s["role"] for s in view["subjects"]} == {"S1": "CHILD", "S5": "SIBLING"}


async def test_twins_with_one_surname_and_birthday_are_two_people(world: World, store: Store) -> None:
    """Without NHS numbers, twins share a family name and a date of birth: their given names keep them
    apart, so one twin's earlier referral is not the other's re-referral."""
    hub = Consumer(world, store)
    twin = SubjectIn("S1", "CHILD", "Ella", "Hartley", date(2015, 4, 4))
    other = SubjectIn("S1", "CHILD", "Isla", "Hartley", date(2015, 4, 4))
    _refer(world, hub, _rid(1), datetime(2026, 1, 10, tzinfo=UTC), twin)
    _refer(world, hub, _rid(2), datetime(2026, 6, 1, tzinfo=UTC), other)
    assert "re_referral_within_12_months" not in _flags(hub, _rid(2))
    keys = {k for (k,) in store.conn.execute("SELECT person_key FROM person_index")}
    assert len(keys) == 2


async def test_a_flag_on_a_match_without_an_nhs_number_is_labelled_probable(
    world: World, store: Store
) -> None:
    """Matching order (DOMAIN.md): a match on name and date of birth is probable, and a person confirms it;
    a match on a validated NHS number is not labelled."""
    hub = Consumer(world, store)
    unnumbered = SubjectIn("S1", "CHILD", "Amy", "Hartley", date(2012, 5, 5))
    _refer(world, hub, _rid(1), datetime(2026, 1, 10, tzinfo=UTC), unnumbered)
    _refer(world, hub, _rid(2), datetime(2026, 6, 1, tzinfo=UTC), unnumbered)
    view = render(store.conn, _rid(2), micros(datetime(2026, 7, 1, tzinfo=UTC)))
    assert view is not None
    (flag,) = [f for f in view["flags"] if f["flag"] == "re_referral_within_12_months"]
    assert flag["probable_match"] is True
    assert "probable match" in flag["why"]
    assert "confirm" in flag["why"]
    _refer(world, hub, _rid(3), datetime(2026, 2, 1, tzinfo=UTC), CHILD)
    _refer(world, hub, _rid(4), datetime(2026, 6, 1, tzinfo=UTC), CHILD)
    view = render(store.conn, _rid(4), micros(datetime(2026, 7, 1, tzinfo=UTC)))
    assert view is not None
    (flag,) = [f for f in view["flags"] if f["flag"] == "re_referral_within_12_months"]
    assert flag["probable_match"] is False
    assert "probable" not in flag["why"]
