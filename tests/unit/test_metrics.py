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
