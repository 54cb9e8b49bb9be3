"""Where a case stands, and why information is shared there (DOMAIN "Stages, outcomes and late
information")."""

from __future__ import annotations

import pytest

from services.broker.stages import LIVE_PURPOSES, live_purposes, stage_of

OUTCOME_STAGES = [
    # An outcome sets the stage it implies, whatever the RAG (children-in-need census outcomes).
    ("STRATEGY_DISCUSSION_S47", "S47"),
    ("IMMEDIATE_PROTECTION", "S47"),
    ("CSC_ASSESSMENT_S17", "S17"),
    ("EARLY_HELP", "EARLY_HELP"),
    ("STEP_DOWN_EARLY_HELP", "EARLY_HELP"),
    ("NO_FURTHER_ACTION", "DECIDED"),
    ("INFORMATION_AND_ADVICE", "DECIDED"),
    ("POLICE_OR_SINGLE_AGENCY", "DECIDED"),
    ("TRANSFER_OUT", "DECIDED"),
]


@pytest.mark.parametrize(("outcome", "stage"), OUTCOME_STAGES)
@pytest.mark.parametrize("rag", [None, "RED", "GREEN"])
def test_the_latest_outcome_decides_first(outcome: str, stage: str, rag: str | None) -> None:
    assert stage_of(rag, outcome, strategy_discussion=True) == stage


@pytest.mark.parametrize("rag", [None, "RED", "AMBER", "GREEN"])
def test_a_strategy_discussion_comes_whatever_the_rating(rag: str | None) -> None:
    """Children Act 1989 s47; Working Together 2023 ch. 3: where there is reasonable cause to suspect
    significant harm the strategy discussion happens at once, whatever the RAG, rated or not."""
    assert stage_of(rag, None, strategy_discussion=True) == "STRATEGY_DISCUSSION"
    assert live_purposes("STRATEGY_DISCUSSION") == ("STRATEGY_DISCUSSION",)


def test_a_rating_gives_triage_and_an_unrated_contact_is_at_screening() -> None:
    assert [stage_of(r, None, False) for r in ("RED", "AMBER", "GREEN", None, "UNKNOWN")] == [
        "RED",
        "AMBER",
        "GREEN",
        "SCREENING",
        "SCREENING",
    ]
    assert {live_purposes(s) for s in ("RED", "AMBER", "GREEN")} == {("TRIAGE",)}
    assert live_purposes("SCREENING") == ("SCREENING",)
    assert stage_of("RED", "UNKNOWN", False) == "RED", "an outcome this reader does not know sets nothing"


def test_a_decided_case_is_never_closed_to_information() -> None:
    """Working Together 2023 ch. 2: decisions are revisited when new information arrives. After no further
    action (and after early help, which the family may decline) late information is a live purpose."""
    assert live_purposes("DECIDED") == ("LATE_INFORMATION",)
    assert live_purposes("EARLY_HELP") == ("EARLY_HELP", "LATE_INFORMATION")
    assert live_purposes("S47") == ("S47_ENQUIRY",)
    assert live_purposes("S17") == ("S17_ASSESSMENT",)
    assert all(LIVE_PURPOSES[s] for s in LIVE_PURPOSES), "every stage has a purpose"
