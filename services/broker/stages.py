"""Where a case stands, and why information is shared at that point: its stage and its live purposes.

The latest outcome decides first (an outcome sets the stage it implies, whatever the RAG); then a strategy
discussion, which can come before any rating (Children Act 1989 s47; Working Together 2023 ch. 3); then
the RAG rating; else the contact is still at screening. A decided case is never closed to information:
what arrives after the decision is late information for the screening desk, so the decision can be
revisited.
"""

from __future__ import annotations

from services.broker.policy import LATE_INFORMATION, Purpose, Stage

_OUTCOME_STAGE: dict[str, Stage] = {
    "STRATEGY_DISCUSSION_S47": "S47",
    "IMMEDIATE_PROTECTION": "S47",
    "CSC_ASSESSMENT_S17": "S17",
    "EARLY_HELP": "EARLY_HELP",
    "STEP_DOWN_EARLY_HELP": "EARLY_HELP",
    "NO_FURTHER_ACTION": "DECIDED",
    "INFORMATION_AND_ADVICE": "DECIDED",
    "POLICE_OR_SINGLE_AGENCY": "DECIDED",
    "TRANSFER_OUT": "DECIDED",
}

LIVE_PURPOSES: dict[Stage, tuple[Purpose, ...]] = {
    "SCREENING": ("SCREENING",),
    "RED": ("TRIAGE",),
    "AMBER": ("TRIAGE",),
    "GREEN": ("TRIAGE",),
    "STRATEGY_DISCUSSION": ("STRATEGY_DISCUSSION",),
    "S47": ("S47_ENQUIRY",),
    "S17": ("S17_ASSESSMENT",),
    # Early help is voluntary; what arrives after the decision still reaches the decision makers.
    "EARLY_HELP": ("EARLY_HELP", LATE_INFORMATION),
    "DECIDED": (LATE_INFORMATION,),
}

OUTCOMES: frozenset[str] = frozenset(_OUTCOME_STAGE)


def stage_of(rag: str | None, outcome: str | None, strategy_discussion: bool) -> Stage:
    if outcome in _OUTCOME_STAGE:
        return _OUTCOME_STAGE[outcome]
    if strategy_discussion:
        return "STRATEGY_DISCUSSION"
    if rag == "RED":
        return "RED"
    if rag == "AMBER":
        return "AMBER"
    if rag == "GREEN":
        return "GREEN"
    return "SCREENING"


def live_purposes(stage: str) -> tuple[Purpose, ...]:
    found: tuple[Purpose, ...] = LIVE_PURPOSES.get(stage, ())  # type: ignore[call-overload]
    return found
