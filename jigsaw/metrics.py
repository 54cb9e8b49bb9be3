"""Prometheus metrics for the kernel, and the HTTP server each service exposes them on.

Every metric is ``jigsaw_``-prefixed and lives in an injected ``CollectorRegistry``. Label values come from
bounded sets (service names, configured topics, reason codes), never a referral id or a person.
"""

from __future__ import annotations

import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from jigsaw.config import MetricsSettings
from jigsaw.errors import DeadLetterReason
from jigsaw.lifecycle import Component, require

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class KernelMetrics:
    """What the consume loop, the DLQ publisher and the outbox report."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.service = service
        self._consumed = Counter(
            "jigsaw_records_consumed",
            "Records taken from Kafka.",
            ["service", "topic"],
            registry=registry,
        )
        self._outcomes = Counter(
            "jigsaw_handler_outcomes",
            "Handler outcomes.",
            ["service", "outcome"],
            registry=registry,
        )
        self._dead_letters = Counter(
            "jigsaw_dead_letters",
            "Records dead-lettered, by reason.",
            ["service", "reason"],
            registry=registry,
        )
        self._consume_errors = Counter(
            "jigsaw_consume_errors",
            "Errors talking to Kafka, by kind.",
            ["service", "kind"],
            registry=registry,
        )
        self._handle_seconds = Histogram(
            "jigsaw_handle_seconds",
            "Time spent in a handler per record.",
            ["service"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self._outbox_depth = Gauge(
            "jigsaw_outbox_depth", "Records waiting in the outbox.", ["service"], registry=registry
        )
        self._outbox_oldest = Gauge(
            "jigsaw_outbox_oldest_age_seconds",
            "Age of the oldest record in the outbox.",
            ["service"],
            registry=registry,
        )
        self._outbox_published = Counter(
            "jigsaw_outbox_published",
            "Outbox records acknowledged by Kafka.",
            ["service"],
            registry=registry,
        )
        self._lag = Gauge(
            "jigsaw_consumer_lag",
            "Records behind the end of the topic.",
            ["service", "topic"],
            registry=registry,
        )
        self._oversized = Counter(
            "jigsaw_oversized_records",
            "Records refused before handling because a key, value or headers exceeded its bound.",
            ["service", "topic", "part"],
            registry=registry,
        )
        self._parked = Counter(
            "jigsaw_outbox_parked",
            "Outbox records Kafka refused for good, moved aside so the rows behind them go on.",
            ["service", "error"],
            registry=registry,
        )
        self._task_restarts = Counter(
            "jigsaw_task_restarts",
            "Background tasks restarted after an unexpected error.",
            ["service", "task"],
            registry=registry,
        )
        self._task_up = Gauge(
            "jigsaw_task_up",
            "1 while a background task runs, 0 once it has failed for good (the service then stops).",
            ["service", "task"],
            registry=registry,
        )

    def consumed(self, topic: str) -> None:
        self._consumed.labels(self.service, topic).inc()

    def outcome(self, outcome: str) -> None:
        self._outcomes.labels(self.service, outcome).inc()

    def dead_lettered(self, reason: DeadLetterReason) -> None:
        self._dead_letters.labels(self.service, reason.value).inc()

    def consume_error(self, kind: str) -> None:
        self._consume_errors.labels(self.service, kind).inc()

    def handled(self, seconds: float) -> None:
        self._handle_seconds.labels(self.service).observe(seconds)

    def outbox(self, depth: int, oldest_age_s: float) -> None:
        self._outbox_depth.labels(self.service).set(depth)
        self._outbox_oldest.labels(self.service).set(oldest_age_s)

    def outbox_published(self, n: int) -> None:
        self._outbox_published.labels(self.service).inc(n)

    def lag(self, topic: str, records: int) -> None:
        self._lag.labels(self.service, topic).set(records)

    def oversized(self, topic: str, part: str) -> None:
        self._oversized.labels(self.service, topic, part).inc()

    def outbox_parked(self, error: str) -> None:
        self._parked.labels(self.service, error).inc()

    def task_restarted(self, task: str) -> None:
        self._task_restarts.labels(self.service, task).inc()

    def task_up(self, task: str, up: bool) -> None:
        self._task_up.labels(self.service, task).set(1 if up else 0)


class MetricsServer(Component):
    """Serves ``/metrics`` for one registry on a loopback port (0 picks a free one)."""

    def __init__(self, settings: MetricsSettings, registry: CollectorRegistry) -> None:
        self._settings = settings
        self._registry = registry
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        self._check_started()
        return int(require(self._server, "metrics server").server_address[1])

    async def _start(self) -> None:
        if self._settings.enabled:
            self._server, self._thread = start_http_server(
                self._settings.port, addr=self._settings.host, registry=self._registry
            )

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
