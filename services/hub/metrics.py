"""The hub's metrics: end-to-end latency, cases by RAG, breached enquiries, outcomes, time to decision."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from jigsaw.metrics import LATENCY_BUCKETS

# The split a MASH is judged on (an evaluation of Devon's MASH: 48% to children's social care, 24% to
# early response); the route is a bounded label, each outcome one of the schema's symbols.
_OUTCOMES = {
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


class HubMetrics:
    def __init__(self, registry: CollectorRegistry, subscriber: str) -> None:
        self.subscriber = subscriber
        self._latency = Histogram(
            "jigsaw_hub_end_to_end_seconds",
            "From a message's created_at to its case view being updated.",
            ["subscriber"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.cases = Gauge(
            "jigsaw_hub_cases", "Cases by RAG rating.", ["subscriber", "rag"], registry=registry
        )
        self.breached = Gauge(
            "jigsaw_hub_breached_enquiries",
            "Enquiries past their deadline.",
            ["subscriber"],
            registry=registry,
        )
        self._outcomes = Counter(
            "jigsaw_hub_outcomes",
            "Outcomes by the split a MASH is judged on.",
            ["subscriber", "route", "outcome"],
            registry=registry,
        )
        self.time_to_decision = Histogram(
            "jigsaw_hub_time_to_decision_seconds",
            "From referral received to its first outcome.",
            ["subscriber"],
            buckets=(600, 3600, 4 * 3600, 24 * 3600, 72 * 3600, 7 * 86400),
            registry=registry,
        )
        # Labels stay bounded: the route is the matched template (or "other"), never the requested path.
        self._refusals = Counter(
            "jigsaw_hub_api_refusals",
            "API requests refused, by route template and status.",
            ["subscriber", "route", "status"],
            registry=registry,
        )

    def refused(self, route: str, status: int) -> None:
        self._refusals.labels(self.subscriber, route, str(status)).inc()

    def assembled(self, latency_us: int) -> None:
        self._latency.labels(self.subscriber).observe(max(latency_us, 0) / 1e6)

    def outcome(self, outcome: str) -> None:
        self._outcomes.labels(self.subscriber, _OUTCOMES.get(outcome, "other"), outcome).inc()
