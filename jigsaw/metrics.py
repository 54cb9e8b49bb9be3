"""Prometheus metrics for the kernel, and the HTTP server each service exposes them on.

Every metric is ``jigsaw_``-prefixed and lives in an injected ``CollectorRegistry``. Label values come from
bounded sets (service names, configured topics, reason codes), never a referral id or a person.
"""

from __future__ import annotations

import contextlib
import json
import math
import socket
import threading
import time
from collections.abc import Iterable
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.types import StartResponse
from wsgiref.types import WSGIApplication as WSGIApp

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer

from jigsaw.config import MetricsSettings
from jigsaw.errors import DeadLetterReason
from jigsaw.health import LIVE, READY, Health, probe
from jigsaw.lifecycle import Component, require

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class KernelMetrics:
    """What the consume loop, the DLQ publisher and the outbox report."""

    def __init__(self, registry: CollectorRegistry, service: str) -> None:
        self.registry = registry
        self.service = service
        self._failed_tasks: set[str] = set()
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
        self._progress_metrics(registry)
        self._readiness_metrics(registry)

    def _progress_metrics(self, registry: CollectorRegistry) -> None:
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
            "Records behind the end of a partition: its high watermark less the next offset to handle.",
            ["service", "topic", "partition"],
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

    def _readiness_metrics(self, registry: CollectorRegistry) -> None:
        self._ready = Gauge(
            "jigsaw_ready", "1 while /health/ready says the service is ready.", ["service"], registry=registry
        )
        self._key_expiry = Gauge(
            "jigsaw_key_expiry_days",
            "Days until the participant's newest published key expires, as this service's directory has it.",
            ["service", "participant"],
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

    def lag(self, topic: str, partition: int, records: int) -> None:
        self._lag.labels(self.service, topic, str(partition)).set(records)

    def lag_gone(self, topic: str, partition: int) -> None:
        """A partition revoked: its lag is another instance's to report now."""
        with contextlib.suppress(KeyError):
            self._lag.remove(self.service, topic, str(partition))

    def key_gone(self, participant: str) -> None:
        """A participant retired (its newest key revoked): nothing is expiring."""
        with contextlib.suppress(KeyError):
            self._key_expiry.remove(self.service, participant)

    def readiness(self, health: Health) -> None:
        """``jigsaw_ready`` answers as ``/health/ready`` does, when scraped."""
        self._ready.labels(self.service).set_function(lambda: 1.0 if health.ready()[0] else 0.0)

    def key_expiry(self, participant: str, not_after_us: int | None) -> None:
        """Days left on ``participant``'s newest key, counted at each scrape; +Inf for a key issued without
        an expiry, so the series exists for every participant in the directory."""
        if not_after_us is None:
            self._key_expiry.labels(self.service, participant).set(math.inf)
            return
        expires = not_after_us / 1e6
        self._key_expiry.labels(self.service, participant).set_function(
            lambda: (expires - time.time()) / 86400
        )

    def oversized(self, topic: str, part: str) -> None:
        self._oversized.labels(self.service, topic, part).inc()

    def outbox_parked(self, error: str) -> None:
        self._parked.labels(self.service, error).inc()

    def task_restarted(self, task: str) -> None:
        self._task_restarts.labels(self.service, task).inc()

    def task_up(self, task: str, up: bool) -> None:
        self._task_up.labels(self.service, task).set(1 if up else 0)
        if up:
            self._failed_tasks.discard(task)
        else:
            self._failed_tasks.add(task)

    def failed_tasks(self) -> str | None:
        """A readiness check: the supervised tasks that failed for good, if any."""
        failed = sorted(self._failed_tasks)
        return f"failed: {', '.join(failed)}" if failed else None


class _Server6(ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Probes and scrapes arrive every few seconds; a line each would bury the service's own."""


def _wsgi(registry: CollectorRegistry, health: Health | None) -> WSGIApp:
    metrics = make_wsgi_app(registry)

    def app(environ: dict[str, object], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path in (LIVE, READY):
            code, body = probe(health, str(path))
            status = "200 OK" if code == 200 else "503 Service Unavailable"
            start_response(status, [("Content-Type", "application/json"), ("Cache-Control", "no-store")])
            return [json.dumps(body).encode()]
        if path == "/metrics":
            return metrics(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found: /metrics, /health/live, /health/ready\n"]

    return app


class MetricsServer(Component):
    """Serves ``/metrics``, ``/health/live`` and ``/health/ready`` for one service on one port (0 picks a
    free one), from its own thread, so a scrape or a probe is answered even while the event loop is busy."""

    def __init__(
        self, settings: MetricsSettings, registry: CollectorRegistry, health: Health | None = None
    ) -> None:
        self._settings = settings
        self._registry = registry
        self._health = health
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        self._check_started()
        return int(require(self._server, "metrics server").server_address[1])

    async def _start(self) -> None:
        if self._settings.enabled:
            server = make_server(
                self._settings.host,
                self._settings.port,
                _wsgi(self._registry, self._health),
                _Server6 if ":" in self._settings.host else ThreadingWSGIServer,
                handler_class=_Quiet,
            )
            self._thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
            self._thread.start()
            self._server = server

    async def _stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
