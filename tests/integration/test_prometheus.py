"""A real Prometheus (Debian's) scraping the server every service runs, with the project's rules loaded.

The whole demo's scrape is checked in tests/e2e/test_demo.py; here one server, so that what a target looks
like, what the rules do on a real server and what a service going away does are seen on their own.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from prometheus_client import CollectorRegistry

from devkit import apt
from devkit.localprom import LocalPrometheus, Target
from devkit.localprom.server import RULES, config
from jigsaw.config import MetricsSettings
from jigsaw.health import Health
from jigsaw.metrics import KernelMetrics, MetricsServer
from services.broker.metrics import BrokerMetrics

pytestmark = pytest.mark.timeout(240)


def _until(what: str, check: Callable[[], Any], timeout_s: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:.0f} s: {what}")
        time.sleep(0.5)


def _rule_names() -> set[str]:
    names = set()
    for path in RULES.glob("*.yml"):
        for group in yaml.safe_load(path.read_text())["groups"]:
            names |= {r.get("alert") or r["record"] for r in group["rules"]}
    return names


def test_the_local_config_and_the_deployment_config_pass_promtool(tmp_path: Path) -> None:
    promtool = apt.require("prometheus", "promtool")
    local = tmp_path / "prometheus.yml"
    (tmp_path / "targets").mkdir()
    local.write_text(yaml.safe_dump(config(tmp_path / "targets")))
    # Debian builds Prometheus without Kubernetes discovery, so its promtool refuses the field: the rest of
    # the deployment's config (the relabelling above all) is checked with a static target in its place.
    deployed = yaml.safe_load((RULES.parent / "prometheus.yml").read_text())
    for job in deployed["scrape_configs"]:
        assert job.pop("kubernetes_sd_configs") == [{"role": "pod"}]
        job["static_configs"] = [{"targets": ["127.0.0.1:9400"]}]
    deployed["rule_files"] = [str(RULES / "*.yml")]
    k8s = tmp_path / "deployed.yml"
    k8s.write_text(yaml.safe_dump(deployed))
    for path in (local, k8s):
        done = subprocess.run(
            [str(promtool), "check", "config", str(path)], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "SUCCESS" in done.stdout + done.stderr


async def test_a_service_is_scraped_its_rules_evaluate_and_its_going_is_seen(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    kernel = KernelMetrics(registry, "broker")
    broker = BrokerMetrics(registry)
    # The waits below block this test's event loop, and with it the heartbeat that liveness reads.
    health = Health(stale_s=600)
    health.check("tasks", kernel.failed_tasks)
    kernel.readiness(health)
    kernel.lag("jigsaw.intel.police.v1", 0, 7)
    broker.decided("police", "RELEASE", "R1")
    kernel.key_expiry("connector.police", int((time.time() + 20 * 86400) * 1e6))

    prom = LocalPrometheus(tmp_path / "prom", progress=lambda _: None)
    async with health, MetricsServer(MetricsSettings(port=0), registry, health) as server:
        target = Target("jigsaw-broker", "broker", f"127.0.0.1:{server.port}")
        try:
            prom.start([target])
            up = _until(
                "the broker target is scraped and up",
                lambda: prom.query('up{job="jigsaw-broker"} == 1'),
            )
            assert up[0]["metric"]["jigsaw_service"] == "broker"
            assert up[0]["metric"]["instance"] == target.address

            lag = prom.query("jigsaw_consumer_lag")
            assert [(s["metric"]["partition"], s["value"][1]) for s in lag] == [("0", "7")]
            assert prom.value('jigsaw_ready{service="broker"}') == 1.0
            days = prom.value('jigsaw_key_expiry_days{participant="connector.police"}')
            assert days is not None
            assert 19.9 < days <= 20.0
            decided = prom.query('jigsaw_broker_decisions_total{outcome="RELEASE"}')
            assert decided[0]["metric"]["rule"] == "R1"

            # Every rule of deploy/prometheus/rules/ is loaded and evaluates without error on real data.
            def evaluated() -> list[dict[str, Any]] | None:
                rules = prom.rules()  # never evaluated: lastEvaluation is 0001-01-01
                return rules if rules and all(r["lastEvaluation"] >= "2000" for r in rules) else None

            loaded = _until("every rule evaluated", evaluated)
            assert {r["name"] for r in loaded} == _rule_names()
            broken = [(r["name"], r.get("lastError")) for r in loaded if r["health"] != "ok"]
            assert broken == []

            # A failed task makes the service unready, and the scrape says so.
            kernel.task_up("outbox", False)
            _until("jigsaw_ready falls to 0", lambda: prom.value('jigsaw_ready{service="broker"}') == 0.0)
            async with httpx.AsyncClient() as http:
                ready = await http.get(f"http://127.0.0.1:{server.port}/health/ready")
            assert ready.status_code == 503
        except BaseException:
            print(prom.tail())
            raise
    try:
        # The service is gone: the next scrape fails, and up says so.
        _until("up falls to 0", lambda: prom.value('up{job="jigsaw-broker"}') == 0.0)
    finally:
        assert prom.stop() == 0, prom.tail()


def test_a_restarted_server_answers_for_the_earlier_run_from_its_data(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    KernelMetrics(registry, "hub-csc").lag("jigsaw.release.csc.v1", 2, 11)

    async def scrape_once() -> float:
        prom = LocalPrometheus(tmp_path / "prom", progress=lambda _: None)
        async with MetricsServer(MetricsSettings(port=0), registry) as server:
            prom.start([Target("jigsaw-hub", "hub-csc", f"127.0.0.1:{server.port}")])
            try:
                await asyncio.to_thread(_until, "a scrape", lambda: prom.query('up{job="jigsaw-hub"} == 1'))
                return time.time()
            finally:
                prom.stop()

    at = asyncio.run(scrape_once())
    again = LocalPrometheus(tmp_path / "prom", progress=lambda _: None)
    again.start([])
    try:
        assert again.value('jigsaw_consumer_lag{partition="2"}', at) == 11.0
    finally:
        again.stop()
