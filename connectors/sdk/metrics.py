"""The connector's metrics. Outbox depth and age, returns published and DLQ by reason come from the kernel."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from jigsaw.metrics import LATENCY_BUCKETS


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.enquiries = Counter("jigsaw_connector_enquiries", "Enquiries received.", registry=registry)
        self.returns = Counter(
            "jigsaw_connector_returns",
            "Returns sealed into the outbox, by kind.",
            ["kind"],
            registry=registry,
        )
        self.matches = Counter(
            "jigsaw_connector_matches", "Subject match outcomes.", ["method", "review"], registry=registry
        )
        self.lookup_seconds = Histogram(
            "jigsaw_connector_lookup_seconds",
            "Source lookup latency per enquiry.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.source_errors = Counter(
            "jigsaw_connector_source_errors",
            "Lookups the source did not answer with rows, by error: NothingHeld, SourceUnavailable"
            " (retried), SourceMisconfigured (the connector stops).",
            ["error"],
            registry=registry,
        )
        self.markers = Counter(
            "jigsaw_connector_markers",
            "Confidential-address markers set on returns, by scope (PERSON or ADDRESS).",
            ["scope"],
            registry=registry,
        )
        self.reports = Counter(
            "jigsaw_connector_reports",
            "Unsolicited reports sealed to the MASH front door, each asking it to open its referral.",
            registry=registry,
        )
