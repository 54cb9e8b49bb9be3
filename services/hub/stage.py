"""A case's stage and the purpose an enquiry asks for, by the same rule the broker applies to releases
(the agreement's live purposes): the latest outcome first, then a strategy discussion, then the rating.

The broker's own copy decides what is released; this one only says which purpose an enquiry the hub
sends names, so the two agree on the stage whenever the hub has heard of the same decisions.
"""

from __future__ import annotations

OUTCOME_STAGE = {
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
# The first live purpose of each stage: what an enquiry made at that stage is for.
STAGE_PURPOSE = {
    "SCREENING": "SCREENING",
    "RED": "TRIAGE",
    "AMBER": "TRIAGE",
    "GREEN": "TRIAGE",
    "STRATEGY_DISCUSSION": "STRATEGY_DISCUSSION",
    "S47": "S47_ENQUIRY",
    "S17": "S17_ASSESSMENT",
    "EARLY_HELP": "EARLY_HELP",
    "DECIDED": "LATE_INFORMATION",
}
RATED = ("RED", "AMBER", "GREEN")


def stage(rag: str | None, outcome: str | None, strategy_discussion: bool) -> str:
    if outcome in OUTCOME_STAGE:
        return OUTCOME_STAGE[outcome]
    if strategy_discussion:
        return "STRATEGY_DISCUSSION"
    return rag if rag in RATED else "SCREENING"


def purpose(rag: str | None, outcome: str | None = None, strategy_discussion: bool = False) -> str:
    return STAGE_PURPOSE[stage(rag, outcome, strategy_discussion)]


# The split a MASH is judged on (an evaluation of Devon's MASH: 48% to children's social care, 24% to
# early response): each outcome's route, shared by the metric and `jigsaw report` so the two agree.
OUTCOME_ROUTE = {
    "STRATEGY_DISCUSSION_S47": "childrens_social_care",
    "IMMEDIATE_PROTECTION": "childrens_social_care",
    "CSC_ASSESSMENT_S17": "childrens_social_care",
    "EARLY_HELP": "early_help",
    "STEP_DOWN_EARLY_HELP": "early_help",
    "NO_FURTHER_ACTION": "no_further_action",
    "INFORMATION_AND_ADVICE": "no_further_action",
    "POLICE_OR_SINGLE_AGENCY": "single_agency",
    "TRANSFER_OUT": "transfer_out",
}
ROUTES = ("childrens_social_care", "early_help", "no_further_action", "single_agency", "transfer_out")


def route(outcome: str) -> str:
    return OUTCOME_ROUTE.get(outcome, "other")
