"""Consent per person, with scope (DOMAIN "Consent, per person"; Gillick v West Norfolk AHA [1986] AC 112;
FHIR Consent provisions for the data-sharing scope)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jigsaw.bus.store import Store, Tx
from services.broker import consent, state
from services.broker.decide import Sharing

R = "R-1"


@pytest.fixture
def tx(tmp_path: Path) -> Iterator[Tx]:
    store = Store(tmp_path / "b.sqlite", state.SCHEMA)
    store.open()
    with store.transaction() as t:
        state.add_subject(t, R, "CHILD", "CHILD", False)
        state.add_subject(t, R, "TEEN", "SIBLING", False)
        state.add_subject(t, R, "MUM", "PARENT", False)
        state.add_subject(t, R, "DAD", "PARENT", False)
        yield t
    store.close()


def _record(tx: Tx, kind: str, subject: str | None = None, **fields: Any) -> None:
    body = {
        "kind": kind,
        "scope": "EARLY_HELP_SERVICE",
        "family_informed": None,
        "not_informed_reason": None,
        "subject_ref": subject,
        **fields,
    }
    consent.record(tx, R, f"m-{kind}-{subject}-{fields.get('scope')}", body)


def _state(tx: Tx, subject: str) -> tuple[str, str]:
    found = consent.book(tx, R).for_subject(subject)
    return found.state, found.by


def test_nothing_recorded_is_awaited(tx: Tx) -> None:
    assert _state(tx, "CHILD") == ("NONE", "")
    assert _state(tx, "") == ("NONE", "")


def test_a_family_wide_record_counts_for_everyone_without_their_own(tx: Tx) -> None:
    """A v1 record (no subject) is the family's."""
    _record(tx, "CONSENT_GIVEN")
    assert {_state(tx, s)[0] for s in ("CHILD", "MUM", "")} == {"GIVEN"}
    _record(tx, "CONSENT_REFUSED", "MUM")
    assert _state(tx, "MUM") == ("REFUSED", "MUM"), "her own record decides about her"
    assert _state(tx, "DAD") == ("GIVEN", ""), "his is still the family's"


def test_one_parents_refusal_is_respected_and_recorded_against_that_parent(tx: Tx) -> None:
    """Each adult with parental responsibility has a say: a refusal by one parent decides the child's
    sections and the referral-wide ones, recorded against that parent; the other's own data is theirs."""
    _record(tx, "CONSENT_GIVEN", "MUM", party="PARENT_WITH_PR")
    assert _state(tx, "CHILD") == ("GIVEN", "MUM"), "either parent's agreement opens it"
    _record(tx, "CONSENT_REFUSED", "DAD", party="PARENT_WITH_PR")
    assert _state(tx, "CHILD") == ("REFUSED", "DAD")
    assert _state(tx, "") == ("REFUSED", "DAD")
    assert _state(tx, "MUM") == ("GIVEN", "MUM")
    _record(tx, "CONSENT_WITHDRAWN", "MUM", party="PARENT_WITH_PR")
    assert _state(tx, "MUM") == ("WITHDRAWN", "MUM")


def test_a_gillick_competent_young_person_decides_for_themselves(tx: Tx) -> None:
    """Gillick competence is judged case by case, not by age: a young person judged competent consents or
    refuses for themselves; one not judged competent does not override the parents."""
    _record(tx, "CONSENT_GIVEN", "MUM", party="PARENT_WITH_PR")
    _record(tx, "CONSENT_REFUSED", "TEEN", party="YOUNG_PERSON", gillick_competent=False)
    assert _state(tx, "TEEN") == ("GIVEN", "MUM")
    _record(tx, "CONSENT_REFUSED", "TEEN", party="YOUNG_PERSON", gillick_competent=True)
    assert _state(tx, "TEEN") == ("REFUSED", "TEEN")
    assert _state(tx, "CHILD") == ("GIVEN", "MUM"), "their sibling is still the parents' to decide"


def test_an_override_or_not_seeking_consent_opens_nothing_but_records_the_ground(tx: Tx) -> None:
    """DPA 2018 Sch 1 para 18(2): sharing without consent records its ground and whether the family was
    told; it is not consent, and early help is voluntary."""
    _record(tx, "CONSENT_REFUSED", "MUM", party="PARENT_WITH_PR")
    _record(
        tx,
        "SAFEGUARDING_OVERRIDE",
        "MUM",
        ground="WOULD_PREJUDICE_PROTECTION",
        family_informed=False,
        not_informed_reason="would alert the alleged perpetrator",
    )
    assert _state(tx, "CHILD") == ("REFUSED", "MUM")
    ref = state.load(tx, R)
    assert (ref.ground, ref.family_informed, ref.not_informed_reason) == (
        "WOULD_PREJUDICE_PROTECTION",
        False,
        "would alert the alleged perpetrator",
    )
    _record(tx, "NOT_SOUGHT_RISK_OF_HARM", None, family_informed=True)
    ref = state.load(tx, R)
    assert (ref.ground, ref.family_informed, ref.not_informed_reason) == (
        "WOULD_PREJUDICE_PROTECTION",
        True,
        None,
    )


def test_a_data_sharing_permission_narrows_an_agreement(tx: Tx) -> None:
    """Agreement to early help and permission to share named categories with named services are different
    scopes; both are recorded, and the permission narrows what the agreement opens."""
    _record(tx, "CONSENT_GIVEN", "MUM", party="PARENT_WITH_PR")
    _record(
        tx,
        "CONSENT_GIVEN",
        "MUM",
        party="PARENT_WITH_PR",
        scope="DATA_SHARING",
        categories=["education_attendance"],
        services=["partner-hub"],
    )
    found = consent.book(tx, R).for_subject("CHILD")
    assert found.state == "GIVEN"
    assert found.sharing == Sharing(frozenset({"education_attendance"}), frozenset({"partner-hub"}))
    _record(tx, "CONSENT_REFUSED", "DAD", party="PARENT_WITH_PR", scope="DATA_SHARING")
    assert _state(tx, "CHILD") == ("REFUSED", "DAD"), "a refusal in either scope is a refusal"


def test_a_permission_alone_does_not_open_early_help(tx: Tx) -> None:
    _record(tx, "CONSENT_GIVEN", "MUM", party="PARENT_WITH_PR", scope="DATA_SHARING")
    assert _state(tx, "CHILD") == ("NONE", "")
