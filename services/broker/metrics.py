"""The broker's metrics. Labels: subscriber and rule ids come from the policy, outcomes from a fixed set."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from jigsaw.metrics import LATENCY_BUCKETS


class BrokerMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self._decisions = Counter(
            "jigsaw_broker_decisions",
            "Section decisions, by subscriber, outcome and rule.",
            ["subscriber", "outcome", "rule"],
            registry=registry,
        )
        self._latency = Histogram(
            "jigsaw_broker_decision_seconds",
            "Time to decide one message for one subscriber.",
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._duplicates = Counter(
            "jigsaw_broker_duplicates",
            "Exact copies of messages already processed, dropped.",
            registry=registry,
        )
        self.cache_hit_ratio = Gauge(
            "jigsaw_broker_decision_cache_hit_ratio",
            "Share of decisions served from the cache.",
            registry=registry,
        )
        self._late = Counter(
            "jigsaw_broker_late_releases",
            "Releases of information that arrived after the case's decision, by subscriber.",
            ["subscriber"],
            registry=registry,
        )
        self._checkpoints = Counter(
            "jigsaw_broker_audit_checkpoints", "Signed audit checkpoints written.", registry=registry
        )
        self.checkpoint_signed_at = Gauge(
            "jigsaw_broker_audit_checkpoint_timestamp_seconds",
            "When the broker last signed an audit checkpoint (Unix time); its start until the first.",
            registry=registry,
        )
        # From the start, so a broker that never signs one is overdue by the same alert as one that stopped.
        self.checkpoint_signed_at.set(time.time())
        self._reloads = Counter(
            "jigsaw_broker_policy_reloads", "Policy reloads, by result.", ["result"], registry=registry
        )

    def decided(self, subscriber: str, outcome: str, rule: str) -> None:
        self._decisions.labels(subscriber, outcome, rule).inc()

    def released_late(self, subscriber: str) -> None:
        self._late.labels(subscriber).inc()

    def decided_in(self, seconds: float) -> None:
        self._latency.observe(seconds)

    def checkpointed(self) -> None:
        self._checkpoints.inc()
        self.checkpoint_signed_at.set(time.time())

    def duplicate(self) -> None:
        self._duplicates.inc()

    def reloaded(self, ok: bool) -> None:
        self._reloads.labels("ok" if ok else "rejected").inc()
