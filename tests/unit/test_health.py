"""/health/live, /health/ready and the readiness metrics, on the server every service runs."""

from __future__ import annotations

import asyncio
import math
import time

import httpx
import pytest
from prometheus_client import CollectorRegistry

from jigsaw import health as health_module
from jigsaw.config import MetricsSettings
from jigsaw.health import Health
from jigsaw.metrics import KernelMetrics, MetricsServer


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_pending_checks_fail_until_their_component_registers() -> None:
    health = Health(pending=("store", "consumer"), clock=lambda: 0.0)
    health._beat = 0.0  # started
    ok, detail = health.ready()
    assert not ok
    assert detail == {"event_loop": "ok", "store": "starting", "consumer": "starting"}
    health.check("store", lambda: None)
    health.check("consumer", lambda: None)
    assert health.ready() == (True, {"event_loop": "ok", "store": "ok", "consumer": "ok"})


def test_a_failing_or_raising_check_makes_the_service_not_ready() -> None:
    health = Health(clock=lambda: 0.0)
    health._beat = 0.0
    health.check("consumer", lambda: "no partitions assigned")
    assert health.ready() == (False, {"event_loop": "ok", "consumer": "no partitions assigned"})

    def broken() -> str | None:
        raise ValueError("a text that may quote input")

    health.check("consumer", broken)
    ok, detail = health.ready()
    assert not ok
    assert detail["consumer"] == "check failed (ValueError)"


def test_live_fails_before_start_and_when_the_heartbeat_goes_stale() -> None:
    now = [100.0]
    health = Health(stale_s=30.0, clock=lambda: now[0])
    assert health.live() == (False, {"event_loop": "not started"})
    health._beat = 100.0
    now[0] = 129.0
    assert health.live()[0]
    now[0] = 131.0
    ok, detail = health.live()
    assert not ok
    assert detail["event_loop"] == "no heartbeat for 31s"
    # Not live is not ready either, whatever the checks say.
    assert not health.ready()[0]


def test_failed_tasks_are_a_readiness_check() -> None:
    metrics = KernelMetrics(CollectorRegistry(), "broker")
    assert metrics.failed_tasks() is None
    metrics.task_up("outbox", False)
    metrics.task_up("key-directory", False)
    assert metrics.failed_tasks() == "failed: key-directory, outbox"
    metrics.task_up("outbox", True)
    assert metrics.failed_tasks() == "failed: key-directory"


def test_lag_is_per_partition_and_a_revoked_partition_is_no_longer_reported() -> None:
    registry = CollectorRegistry()
    metrics = KernelMetrics(registry, "broker")
    metrics.lag("jigsaw.intel.police.v1", 3, 42)
    metrics.lag("jigsaw.intel.police.v1", 4, 0)
    assert (
        _sample(
            registry, "jigsaw_consumer_lag", service="broker", topic="jigsaw.intel.police.v1", partition="3"
        )
        == 42
    )
    metrics.lag_gone("jigsaw.intel.police.v1", 3)
    metrics.lag_gone("jigsaw.intel.police.v1", 3)  # twice is harmless
    assert (
        _sample(
            registry, "jigsaw_consumer_lag", service="broker", topic="jigsaw.intel.police.v1", partition="3"
        )
        is None
    )
    assert (
        _sample(
            registry, "jigsaw_consumer_lag", service="broker", topic="jigsaw.intel.police.v1", partition="4"
        )
        == 0
    )


def test_key_expiry_counts_days_down_and_is_infinite_without_an_expiry() -> None:
    registry = CollectorRegistry()
    metrics = KernelMetrics(registry, "hub-csc")
    metrics.key_expiry("connector.police", int((time.time() + 10 * 86400) * 1e6))
    metrics.key_expiry("connector.health", None)
    metrics.key_expiry("connector.school", int((time.time() - 86400) * 1e6))
    days = _sample(registry, "jigsaw_key_expiry_days", service="hub-csc", participant="connector.police")
    assert days is not None
    assert 9.99 < days <= 10.0
    assert (
        _sample(registry, "jigsaw_key_expiry_days", service="hub-csc", participant="connector.health")
        == math.inf
    )
    expired = _sample(registry, "jigsaw_key_expiry_days", service="hub-csc", participant="connector.school")
    assert expired is not None
    assert expired < 0


async def test_the_server_answers_metrics_live_and_ready() -> None:
    registry = CollectorRegistry()
    metrics = KernelMetrics(registry, "broker")
    health = Health(pending=("consumer",))
    health.check("tasks", metrics.failed_tasks)
    metrics.readiness(health)
    async with health, MetricsServer(MetricsSettings(port=0), registry, health) as server:
        base = f"http://127.0.0.1:{server.port}"
        async with httpx.AsyncClient(base_url=base) as http:
            live = await http.get("/health/live")
            assert live.status_code == 200
            assert live.json() == {"status": "ok", "checks": {"event_loop": "ok"}}
            ready = await http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["consumer"] == "starting"
            assert 'jigsaw_ready{service="broker"} 0.0' in (await http.get("/metrics")).text

            health.check("consumer", lambda: None)
            ready = await http.get("/health/ready")
            assert ready.status_code == 200
            checks = {"event_loop": "ok", "consumer": "ok", "tasks": "ok"}
            assert ready.json() == {"status": "ok", "checks": checks}
            assert 'jigsaw_ready{service="broker"} 1.0' in (await http.get("/metrics")).text

            metrics.task_up("outbox", False)
            ready = await http.get("/health/ready")
            assert ready.status_code == 503
            assert ready.json()["checks"]["tasks"] == "failed: outbox"
            assert (await http.get("/health/nothing")).status_code == 404


async def test_the_heartbeat_keeps_a_running_service_live(monkeypatch: pytest.MonkeyPatch) -> None:
    """The running heartbeat, not the start, keeps the stamp fresh: the clock moves past the stale age
    between beats, and the service stays live only because each beat stamps it again."""
    monkeypatch.setattr(health_module, "HEARTBEAT_S", 0.001)
    now = [0.0]
    health = Health(stale_s=30.0, clock=lambda: now[0])
    async with health:
        for _ in range(3):
            now[0] += 100.0  # far past stale_s since the last stamp
            assert not health.live()[0]
            await _until_live(health)
    assert health.live() == (False, {"event_loop": "not started"})


async def _until_live(health: Health) -> None:
    for _ in range(1000):
        if health.live()[0]:
            return
        await asyncio.sleep(0.001)
    raise AssertionError("the heartbeat never stamped the clock again")


async def test_the_server_listens_on_an_ipv6_host_too() -> None:
    settings = MetricsSettings(host="::1", port=0)
    async with MetricsServer(settings, CollectorRegistry()) as server, httpx.AsyncClient() as http:
        assert (await http.get(f"http://[::1]:{server.port}/health/live")).status_code == 200
