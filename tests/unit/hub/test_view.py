"""The case view from the facts in the store: flags that count each fact once and from every agency that
holds it, completeness as answered / withheld / outstanding, late information, the decision clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from jigsaw.bus.store import Store
from jigsaw.wire.framing import micros
from services.hub import store as hub_store
from services.hub.view import render
from tests.unit.hub.kit import open_store

pytestmark = pytest.mark.usefixtures("store_backend")

R = "R-" + "a" * 32
LONDON = ZoneInfo("Europe/London")
MONDAY = micros(datetime(2026, 6, 15, 10, 0, tzinfo=LONDON))
HOUR = 3_600_000_000
SUBJECTS = [
    {"subject_ref": "S1", "role": "CHILD"},
    {"subject_ref": "S2", "role": "PARENT"},
    {"subject_ref": "S3", "role": "ALLEGED_PERPETRATOR"},
]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(tmp_path / "hub.sqlite")
    with s.transaction() as tx:
        meta = {
            "source_type": "POLICE",
            "concerns": ["DOMESTIC_ABUSE"],
            "rag": "RED",
            "subject_refs": SUBJECTS,
        }
        hub_store.put_referral(tx, R, meta, MONDAY)
        hub_store.put_referral_info(tx, R, {**meta, "referrer_type": "PROFESSIONAL", "immediate_risk": True})
        hub_store.touch_case(tx, R)
    yield s
    s.close()


def _section(
    store: Store,
    msg: str,
    category: str,
    subject: str,
    payload: dict[str, Any] | None,
    *,
    agency: str = "police",
    at: int = MONDAY + HOUR,
    status: str = "RELEASED",
    late: bool = False,
) -> None:
    with store.transaction() as tx:
        hub_store.put_return(tx, R, msg, at, late)
        reason, rule = (None, None) if status == "RELEASED" else (f"{status}: no", "R-X")
        body = None if payload is None else {"subject_ref": subject, **payload}
        hub_store.put_section(tx, R, msg, agency, at, category, subject, status, body, reason, rule)
        hub_store.touch_case(tx, R)


def _incident(ref: str, role: str) -> dict[str, Any]:
    return {
        "kind": "FACT",
        "source": "Niche RMS",
        "recorded_on": "2026-06-01",
        "source_ref": ref,
        "incident_ref": ref,
        "incident_date": "2026-05-30",
        "incident_type": "Domestic incident",
        "subject_role": role,
        "child_present": True,
        "domestic_abuse": True,
        "summary": "Argument; child upstairs",
    }


def _view(store: Store, at: int = MONDAY + 2 * HOUR) -> dict[str, Any]:
    view = render(store.conn, R, at)
    assert view is not None
    return view


def _flags(store: Store) -> set[str]:
    return {f["flag"] for f in _view(store)["flags"]}


def test_one_incident_recorded_against_victim_and_suspect_counts_once(store: Store) -> None:
    """Repeat domestic abuse counts incidents, not records: one police incident returned for the victim
    and again for the suspect is one incident by its own id (issue #15, "flags that count correctly")."""
    _section(store, "m-1", "police_incidents", "S2", {"incidents": [_incident("INC-1", "VICTIM")]})
    _section(store, "m-1", "police_incidents", "S3", {"incidents": [_incident("INC-1", "SUSPECT")]})
    assert "repeat_domestic_abuse_child_present" not in _flags(store)
    _section(store, "m-2", "police_incidents", "S2", {"incidents": [_incident("INC-2", "VICTIM")]})
    assert "repeat_domestic_abuse_child_present" in _flags(store)


def test_one_marac_case_recorded_for_both_parties_is_counted_once(store: Store) -> None:
    """A domestic-abuse case's own count of incidents is one count, however many subjects carry it."""
    case = {
        "kind": "FACT",
        "source": "MARAC",
        "recorded_on": "2026-06-01",
        "source_ref": "MARAC-9",
        "subject_role": "VICTIM",
        "dash_risk_level": "HIGH",
        "incident_count": 1,
        "children_present": True,
        "marac_referred": True,
    }
    _section(store, "m-1", "domestic_abuse", "S2", {"cases": [case], "protective_orders": []})
    _section(store, "m-1", "domestic_abuse", "S3", {"cases": [case], "protective_orders": []})
    _section(store, "m-2", "police_incidents", "S2", {"incidents": [_incident("INC-1", "VICTIM")]})
    assert "repeat_domestic_abuse_child_present" not in _flags(store)


def test_a_sex_offender_known_to_the_police_alone_is_flagged(store: Store) -> None:
    """A conviction or caution for a sexual offence brings the notification requirements (Sexual Offences
    Act 2003 Part 2): the flag reads police convictions as well as probation (issue #15)."""
    disposal = {
        "kind": "FACT",
        "source": "PNC",
        "recorded_on": "2026-01-01",
        "disposal_type": "CONVICTION",
        "offence": "Sexual assault",
        "offence_category": "SEXUAL",
        "disposal_date": "2019-03-01",
        "outcome": "custody",
    }
    _section(store, "m-1", "police_convictions", "S3", {"disposals": [disposal], "markers": [], "bail": []})
    flags = {f["flag"]: f["why"] for f in _view(store)["flags"]}
    assert "sex_offender_in_contact" in flags
    assert "sexual offence" in flags["sex_offender_in_contact"]


def test_police_intelligence_of_child_sexual_abuse_by_an_adult_is_flagged(store: Store) -> None:
    report = {
        "kind": "ALLEGATION",
        "source": "intelligence unit",
        "recorded_on": "2026-01-01",
        "source_evaluation": "SOURCE_2_UNTESTED",
        "intelligence_assessment": "C_KNOWN_INDIRECTLY",
        "handling_code": "P_SHARING_PERMITTED",
        "intelligence_date": "2026-01-01",
        "summary": "s",
        "themes": ["ONLINE_CSA"],
        "subject_role": "SUBJECT",
    }
    _section(store, "m-1", "police_intelligence", "S3", {"reports": [report]})
    assert "sex_offender_in_contact" in _flags(store)


def test_withheld_sections_do_not_make_a_case_incomplete(store: Store) -> None:
    """A section the agreement withholds is an answer kept from this desk, not a gap: completeness counts
    answered, withheld and outstanding apart, and ``complete`` waits only for what is outstanding."""
    with store.transaction() as tx:
        for n, agency in enumerate(("police", "health")):
            enquiry = {"enquiry_id": f"E-{n}", "categories": ["identity"], "purpose": "TRIAGE", "rag": "RED"}
            hub_store.put_enquiry(tx, R, agency, enquiry, MONDAY, MONDAY + 4 * HOUR)
        hub_store.put_answer(tx, "E-0", "m-1", MONDAY + HOUR)
    _section(store, "m-1", "police_intelligence", "S3", None, status="WITHHELD")
    c = _view(store)["completeness"]
    assert (c["answered"], c["withheld"], c["outstanding"], c["complete"]) == (1, 1, 1, False)
    with store.transaction() as tx:
        hub_store.put_answer(tx, "E-1", "m-2", MONDAY + HOUR)
    c = _view(store)["completeness"]
    assert (c["answered"], c["withheld"], c["outstanding"], c["complete"]) == (2, 1, 0, True)
    _section(store, "m-3", "education_attendance", "S1", None, status="REVIEW")
    assert _view(store)["completeness"]["complete"] is False, "a section held for review may still come"


def _outcome(store: Store, decision_id: str, outcome: str, at: int) -> None:
    with store.transaction() as tx:
        body = {
            "decision_id": decision_id,
            "kind": "OUTCOME",
            "outcome": outcome,
            "reason": "r",
            "decided_by": "Jo",
            "referrer_feedback": None,
        }
        hub_store.put_decision(tx, R, body, at)
        hub_store.touch_case(tx, R)


def test_a_return_after_the_decision_is_late_information_awaiting_review(store: Store) -> None:
    """A return that lands after a decision must reach the screening desk marked as late, so the decision
    can be revisited; a case is never closed to information (DOMAIN.md, "Stages, outcomes and late
    information"). A later outcome is the decision revisited."""
    _section(store, "m-1", "police_incidents", "S2", {"incidents": []}, at=MONDAY + HOUR)
    _outcome(store, "D-1", "NO_FURTHER_ACTION", MONDAY + 2 * HOUR)
    _section(store, "m-2", "police_convictions", "S3", {"disposals": []}, at=MONDAY + 3 * HOUR)
    view = _view(store, MONDAY + 4 * HOUR)
    late = {s["source_msg_id"]: s["late"] for s in view["contributions"]["police"]}
    assert late == {"m-1": False, "m-2": True}
    assert view["late_information"] == {"since_decision": True, "awaiting_review": 1, "sections": 1}
    assert view["stage"] == "DECIDED"
    _outcome(store, "D-2", "CSC_ASSESSMENT_S17", MONDAY + 5 * HOUR)
    view = _view(store, MONDAY + 6 * HOUR)
    assert view["late_information"]["since_decision"] is False
    assert view["stage"] == "S17"


def test_a_release_the_broker_marks_late_is_late_whenever_it_was_made(store: Store) -> None:
    """The broker judges lateness by when it first saw a return; a return made before the decision but
    held up at its agency is late too."""
    _outcome(store, "D-1", "NO_FURTHER_ACTION", MONDAY + 2 * HOUR)
    _section(store, "m-1", "police_incidents", "S2", {"incidents": []}, at=MONDAY + HOUR, late=True)
    (section,) = _view(store, MONDAY + 4 * HOUR)["contributions"]["police"]
    assert section["late"] is True


def test_a_return_the_broker_saw_after_the_decision_awaits_review_however_old(store: Store) -> None:
    """The broker's late flag decides: a return sealed before the outcome, but held up at its agency and
    first seen by the broker after it, awaits review; a later outcome is the decision revisited."""
    _section(store, "m-0", "police_incidents", "S1", {"incidents": []}, at=MONDAY)
    _outcome(store, "D-1", "NO_FURTHER_ACTION", MONDAY + 2 * HOUR)
    _section(store, "m-1", "police_incidents", "S2", {"incidents": []}, at=MONDAY + HOUR, late=True)
    view = _view(store, MONDAY + 4 * HOUR)
    assert view["late_information"] == {"since_decision": True, "awaiting_review": 1, "sections": 1}
    _outcome(store, "D-2", "CSC_ASSESSMENT_S17", MONDAY + 5 * HOUR)
    assert _view(store, MONDAY + 6 * HOUR)["late_information"]["since_decision"] is False
    # Seen (and flagged) after the revisited decision: awaiting review again, made when it may have been.
    _section(store, "m-2", "police_convictions", "S3", {"disposals": []}, at=MONDAY + HOUR, late=True)
    view = _view(store, MONDAY + 7 * HOUR)
    assert view["late_information"] == {"since_decision": True, "awaiting_review": 1, "sections": 2}


def test_without_the_brokers_flag_a_return_is_judged_by_when_it_was_made(store: Store) -> None:
    """A release stamped before releases carried the flag: the time comparison is the fallback."""
    _outcome(store, "D-1", "NO_FURTHER_ACTION", MONDAY + 2 * HOUR)
    _section(store, "m-1", "police_incidents", "S2", {"incidents": []}, at=MONDAY + HOUR)
    assert _view(store, MONDAY + 4 * HOUR)["late_information"]["awaiting_review"] == 0
    _section(store, "m-2", "police_convictions", "S3", {"disposals": []}, at=MONDAY + 3 * HOUR)
    view = _view(store, MONDAY + 4 * HOUR)
    assert view["late_information"] == {"since_decision": True, "awaiting_review": 1, "sections": 1}


def test_the_decision_is_due_within_one_working_day(store: Store) -> None:
    """A decision comes within one working day (DOMAIN.md): a contact received on Monday is due by the end
    of Tuesday, and is overdue once that passes without an outcome."""
    view = _view(store, MONDAY + HOUR)
    assert view["decision_due"] == "2026-06-16T16:00:00+00:00"
    assert view["decision_overdue"] is False
    assert _view(store, micros(datetime(2026, 6, 16, 17, 1, tzinfo=LONDON)))["decision_overdue"] is True
    _outcome(store, "D-1", "EARLY_HELP", micros(datetime(2026, 6, 16, 12, 0, tzinfo=LONDON)))
    assert _view(store, micros(datetime(2026, 6, 20, 9, 0, tzinfo=LONDON)))["decision_overdue"] is False


def test_strategy_discussions_markers_subjects_and_feedback_are_shown(store: Store) -> None:
    """A strategy discussion sets the stage whatever the rating (Children Act 1989 s47; Working Together
    2023 ch. 3); a marker hides a person's address; a subject can join mid-way; the referrer is told."""
    events: list[tuple[str, str, dict[str, Any]]] = [
        ("D-1", "STRATEGY_DISCUSSION", {}),
        ("D-2", "CONFIDENTIAL_ADDRESS", {"subject_ref": "S2"}),
        ("D-3", "SUBJECT_ADDED", {"subject_ref": "S4", "subject_role": "SIBLING", "subject_unborn": True}),
        (
            "D-4",
            "REFERRER_FEEDBACK",
            {"referrer_feedback": {"given": True, "given_at": None, "method": "PHONE"}},
        ),
    ]
    with store.transaction() as tx:
        for n, (did, kind, fields) in enumerate(events):
            body = {
                "decision_id": did,
                "kind": kind,
                "reason": "r",
                "decided_by": "Jo",
                "referrer_feedback": None,
            }
            hub_store.put_decision(tx, R, {**body, **fields}, MONDAY + n * HOUR)
        hub_store.touch_case(tx, R)
    view = _view(store, MONDAY + 5 * HOUR)
    assert view["stage"] == "STRATEGY_DISCUSSION"
    assert len(view["strategy_discussions"]) == 1
    subjects = {s["subject_ref"]: s for s in view["subjects"]}
    assert subjects["S2"]["confidential_address"] is True
    assert (subjects["S4"]["role"], subjects["S4"]["unborn"]) == ("SIBLING", True)
    assert view["referrer_feedback"]["given"] is True
    assert view["referral"]["referrer_type"] == "PROFESSIONAL"
