"""What every benchmark's results carry: the machine, the command, raw-sample percentiles, JSON output."""

from __future__ import annotations

import json
import math
import os
import platform
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psutil

RESULTS = Path(__file__).resolve().parents[1] / "results"


def hardware() -> dict[str, Any]:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }


def meta() -> dict[str, Any]:
    argv = [os.path.relpath(sys.argv[0]) if sys.argv else "", *sys.argv[1:]]
    return {
        "command": ".venv/bin/python " + shlex.join(argv),
        "finished_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "hardware": hardware(),
    }


def percentile(finite_sorted: Sequence[float], missing: int, q: float) -> float | None:
    """The ``q`` quantile (0..1) of the samples, by linear interpolation between the closest ranks, where
    ``missing`` samples never completed and rank above all others. None when the quantile falls on one."""
    n = len(finite_sorted) + missing
    if n == 0:
        return None
    pos = q * (n - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    if hi >= len(finite_sorted):
        return None
    frac = pos - lo
    return finite_sorted[lo] + (finite_sorted[hi] - finite_sorted[lo]) * frac


def write(path: Path, data: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def save(name: str, result: dict[str, Any], quick: bool = False, out: Path | None = None) -> None:
    """Write ``result`` to ``out``, or to bench/results/<name>.json (<name>-quick.json for a ``--quick``
    run), and say where, with the run's wall time."""
    path = out or RESULTS / (f"{name}-quick.json" if quick else f"{name}.json")
    print(f"\nwritten to {shown(write(path, result))} ({result['wall_s']:.0f} s)")


def shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def fmt(value: float | None, spec: str = ".1f", missing: str = "-") -> str:
    return missing if value is None else format(value, spec)
