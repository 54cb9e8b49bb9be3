"""The end-to-end benchmark runs: ``python -m bench.e2e --quick`` against the real Kafka writes its JSON.

A smoke test only: it checks that the benchmark runs and what it writes, never how fast anything was.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
@pytest.mark.timeout(600)
def test_e2e_quick_runs_and_writes_its_json(kafka_bootstrap: str, tmp_path: Path) -> None:
    out = tmp_path / "e2e-quick.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.e2e", "--quick", "--bootstrap", kafka_bootstrap, "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert {"hardware", "command", "shape", "jigsaw", "plain", "saturation", "ratios"} <= set(result)
    for pipeline in ("jigsaw", "plain"):
        (step,) = result[pipeline]
        assert {"offered_per_s", "delivered_per_s", "latency", "processes"} <= set(step)
        assert {"p50_ms", "p95_ms", "p99_ms"} <= set(step["latency"])
        assert result["saturation"][pipeline]["throughput_per_s"] > 0
    assert set(result["jigsaw"][0]["processes"]) >= {"connector", "broker", "hub"}
    assert set(result["plain"][0]["processes"]) >= {"source", "relay", "sink"}
    assert "saturation_ours_over_plain" in result["ratios"]
