from __future__ import annotations

import asyncio
import urllib.request

from prometheus_client import CollectorRegistry

from jigsaw.config import MetricsSettings
from jigsaw.errors import DeadLetterReason
from jigsaw.metrics import KernelMetrics, MetricsServer


async def test_metrics_are_served_over_http_from_the_services_own_registry() -> None:
    registry = CollectorRegistry()
    metrics = KernelMetrics(registry, "broker")
    metrics.dead_lettered(DeadLetterReason.BAD_SIGNATURE)
    async with MetricsServer(MetricsSettings(port=0), registry) as server:
        url = f"http://127.0.0.1:{server.port}/metrics"
        body = await asyncio.to_thread(lambda: urllib.request.urlopen(url, timeout=5).read().decode())
    assert 'jigsaw_dead_letters_total{reason="BAD_SIGNATURE",service="broker"} 1.0' in body
    assert "python_gc" not in body, "only the service's own registry is served"


def test_poison_and_supervision_metrics_have_bounded_labels() -> None:
    registry = CollectorRegistry()
    metrics = KernelMetrics(registry, "hub")
    metrics.oversized("jigsaw.referrals.v1", "key")
    metrics.outbox_parked("MessageSizeTooLargeError")
    metrics.task_restarted("outbox")
    metrics.task_up("outbox", False)
    sample = registry.get_sample_value
    labels = {"service": "hub", "topic": "jigsaw.referrals.v1", "part": "key"}
    assert sample("jigsaw_oversized_records_total", labels) == 1
    assert sample("jigsaw_outbox_parked_total", {"service": "hub", "error": "MessageSizeTooLargeError"}) == 1
    assert sample("jigsaw_task_restarts_total", {"service": "hub", "task": "outbox"}) == 1
    assert sample("jigsaw_task_up", {"service": "hub", "task": "outbox"}) == 0
