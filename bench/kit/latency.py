"""What a run's timing files say: each return's delivery to the view, and the latency percentiles.

The source writes ``<referral id> <ns> <phase>`` per return it published (``sent.txt``; phase ``m`` for
the measured window), the hub or sink ``<referral id> <ns> <ms>`` per view update (``updates.txt``).
"""

from __future__ import annotations

from collections import defaultdict, deque
from pathlib import Path
from typing import Any

from bench.kit import report


def read_sent(path: Path) -> list[tuple[str, int, str]]:
    out = []
    for line in path.read_text().splitlines():
        rid, ns, phase = line.split()
        out.append((rid, int(ns), phase))
    return out


def read_updates(path: Path) -> list[tuple[str, int, int]]:
    """(referral, when its view changed in ns, Kafka timestamp in ms of the release that changed it)."""
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        rid, ns, ms = line.split()
        out.append((rid, int(ns), int(ms)))
    return out


Delivery = tuple[int, int] | None  # (view updated, ns; release's Kafka timestamp, ms)


def join(sent: list[tuple[str, int, str]], updates: list[tuple[str, int, int]]) -> list[Delivery]:
    """Delivery of each return, in publish order. One referral's returns travel one partition in order
    through every stage, so its n-th view update is its n-th return's."""
    by_rid: dict[str, deque[tuple[int, int]]] = defaultdict(deque)
    for rid, t1, ms in updates:
        by_rid[rid].append((t1, ms))
    out: list[Delivery] = []
    for rid, t0, _ in sent:
        queue = by_rid[rid]
        # Updates from before the return was published are the setup's (its decisions reach the hub as
        # releases too), never this return's view.
        while queue and queue[0][0] < t0:
            queue.popleft()
        out.append(queue.popleft() if queue else None)
    return out


def _quantiles(finite: list[float], missing: int) -> dict[str, float | None]:
    finite.sort()
    out: dict[str, float | None] = {}
    for name, q in (("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)):
        v = report.percentile(finite, missing, q)
        out[name] = round(v, 2) if v is not None else None
    return out


def latency_stats(sent: list[tuple[str, int, str]], done: list[Delivery]) -> dict[str, Any]:
    got = [(t0, d) for (_, t0, p), d in zip(sent, done, strict=True) if p == "m" and d]
    missing = sum(1 for (_, _, p), d in zip(sent, done, strict=True) if p == "m" and not d)
    lat = [(d[0] - t0) / 1e6 for t0, d in got]
    out: dict[str, Any] = {
        "returns": len(lat) + missing,
        "not_delivered": missing,
        **_quantiles(lat, missing),
    }
    out["max_ms"] = round(max(lat), 2) if lat and not missing else None
    # Where the time went: up to the middle stage handing the release to its producer (connector, Kafka,
    # broker or relay), and from there to the view (Kafka, hub or sink). Kafka timestamps are in ms.
    out["to_release"] = _quantiles([d[1] - t0 / 1e6 for t0, d in got], missing)
    out["release_to_view"] = _quantiles([d[0] / 1e6 - d[1] for t0, d in got], missing)
    return out
