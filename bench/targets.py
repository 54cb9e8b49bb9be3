"""Issue #16's targets: this run's figures beside the plain pipeline's and the baseline's, met or missed.

    .venv/bin/python -m bench.targets [--since EPOCH_SECONDS]     # make bench runs it last

Reads this run's results from bench/results/{e2e,broker,scale}.json and the frozen baseline from
bench/results/before/ (the figures at commit 978f0ca, which no run overwrites), prints one table and writes
bench/results/targets.json. A figure that is absent (a file missing, a step not run, or, with ``--since``,
a file older than this run) prints as "not measured" and counts as missed. A step too overloaded to have a
p99 counts as missed too. Some rows are reported with no threshold. The exit status is 0 whatever the
figures: this is a report, not a gate. The targets hold for 2 cores with Kafka on the same machine.
"""

from __future__ import annotations

import argparse
import json
import operator
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.kit import report

BEFORE = report.RESULTS / "before"
FILES = ("e2e", "broker", "scale")
NOT_MEASURED = "not measured"
OVERLOADED = "overloaded"  # a step whose p99 fell on returns never delivered
RESTART_REFERRALS = 100_000

Results = dict[str, dict[str, Any]]  # results file name (e2e, broker, scale) -> its JSON
Value = float | str  # a figure, or why there is none: NOT_MEASURED or OVERLOADED
OPS: dict[str, Callable[[float, float], bool]] = {"<=": operator.le, ">=": operator.ge, "<": operator.lt}
SHOWN_OPS = {"<=": "≤", ">=": "≥", "<": "<"}


# -- reading the results ---------------------------------------------------------------------------


def dig(data: Any, *path: str | int) -> Any:
    """``data[path[0]][path[1]]...``, or None where any step of the way is absent or of another shape."""
    for key in path:
        try:
            data = data[key]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def number(x: Any) -> Value:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else NOT_MEASURED


def finished(data: dict[str, Any]) -> float | None:
    """When a results file was written, as the epoch seconds ``report.meta`` records."""
    try:
        return datetime.strptime(data["finished_at"], "%Y-%m-%dT%H:%M:%S%z").timestamp()
    except (KeyError, TypeError, ValueError):
        return None


def load(directory: Path, since: float | None = None) -> tuple[Results, list[str]]:
    """The results files in ``directory``, and a note for each one left out. With ``since``, a file
    written before it is another run's (a benchmark of this run failed and left it), so it is left out."""
    out: Results = {}
    notes: list[str] = []
    for name in FILES:
        path = directory / f"{name}.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            notes.append(f"{report.shown(path)}: missing")
            continue
        except (OSError, ValueError) as e:
            notes.append(f"{report.shown(path)}: unreadable ({e})")
            continue
        if not isinstance(data, dict):
            notes.append(f"{report.shown(path)}: not a results object")
            continue
        written = finished(data)
        if since is not None and (written is None or written < since):
            notes.append(f"{report.shown(path)}: from an earlier run ({data.get('finished_at')}), left out")
            continue
        out[name] = data
    return out, notes


# -- the figures -----------------------------------------------------------------------------------


def e2e_step(res: Results, pipeline: str, rate: int) -> dict[str, Any] | None:
    for step in dig(res, "e2e", pipeline) or []:
        if isinstance(step, dict) and step.get("offered_per_s") == rate:
            return step
    return None


def p99_at(rate: int, pipeline: str = "jigsaw") -> Callable[[Results], Value]:
    def figure(res: Results) -> Value:
        step = e2e_step(res, pipeline, rate)
        if step is None:
            return NOT_MEASURED
        p99 = dig(step, "latency", "p99_ms")
        return OVERLOADED if p99 is None else number(p99)

    return figure


def saturated_cpu(pipeline: str) -> Callable[[Results], Value]:
    middle = {"jigsaw": "broker", "plain": "relay"}[pipeline]
    return lambda res: number(
        dig(res, "e2e", "saturation", pipeline, "processes", middle, "cpu_ms_per_return")
    )


def saturation_ratio(res: Results) -> Value:
    return number(dig(res, "e2e", "ratios", "saturation_ours_over_plain"))


def plain_saturation(res: Results) -> Value:
    return number(dig(res, "e2e", "saturation", "plain", "throughput_per_s"))


def rebuild_rate(res: Results) -> Value:
    return number(dig(res, "scale", "rebuild", "records_per_s"))


def restart_s(res: Results) -> Value:
    for store in dig(res, "scale", "stores") or []:
        if isinstance(store, dict) and store.get("referrals") == RESTART_REFERRALS:
            return number(store.get("restart_to_first_view_s"))
    return NOT_MEASURED


def broker_row(res: Results, subscribers: int) -> dict[str, Any] | None:
    for row in dig(res, "broker", "in_process") or []:
        if isinstance(row, dict) and row.get("subscribers") == subscribers:
            return row
    return None


def decisions_per_return(row: dict[str, Any]) -> float:
    """As recorded; results written before it was, have the CPU per return and per decision it comes from."""
    if "decisions_per_return" in row:
        return float(row["decisions_per_return"])
    return round(float(row["cpu_ms_per_return"]) * 1e3 / float(row["cpu_us_per_decision"]), 1)


def slope_us(res: Results) -> Value:
    """Broker CPU per extra decision, in µs, from 4 to 20 subscribers in process: (CPU per return at 20 - at
    4) / (decisions per return at 20 - at 4). Under a linear cost, it is the cost of one decision."""
    four, twenty = broker_row(res, 4), broker_row(res, 20)
    if four is None or twenty is None:
        return NOT_MEASURED
    try:
        extra = decisions_per_return(twenty) - decisions_per_return(four)
        cpu = float(twenty["cpu_ms_per_return"]) - float(four["cpu_ms_per_return"])
        return cpu * 1e3 / extra
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return NOT_MEASURED


def low_load(pipeline: str, part: str, key: str) -> Callable[[Results], Value]:
    """A low-load figure: ``part`` steady or burst, ``key`` a latency quantile or to_last_view_ms."""

    def figure(res: Results) -> Value:
        got = dig(res, "e2e", "low_load", pipeline, part)
        if got is None:
            return NOT_MEASURED
        value = got.get(key) if key == "to_last_view_ms" else dig(got, "latency", key)
        return OVERLOADED if value is None else number(value)

    return figure


# -- the targets -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    name: str
    unit: str
    spec: str  # how the figures are printed
    now: Callable[[Results], Value]
    op: str | None = None  # None: reported, with no threshold
    limit: float | None = None
    plain: Callable[[Results], Value] | None = None
    plain_unit: str | None = None  # when the plain pipeline's figure is another quantity (the ratio's)
    plain_spec: str | None = None


TARGETS = (
    Target(
        "broker CPU per return, 4 subscribers, in the pipeline (saturated)",
        "ms",
        ".2f",
        saturated_cpu("jigsaw"),
        "<=",
        1.0,
        saturated_cpu("plain"),
    ),
    Target(
        "saturation, over the plain pipeline's (same run)",
        "",
        ".3f",
        saturation_ratio,
        ">=",
        0.25,
        plain_saturation,
        "/s",
        ",.0f",
    ),
    Target("end-to-end p99 at 100 returns/s", "ms", ".1f", p99_at(100), "<=", 50.0, p99_at(100, "plain")),
    Target("end-to-end p99 at 400 returns/s", "ms", ".1f", p99_at(400), "<=", 100.0, p99_at(400, "plain")),
    Target("`jigsaw hub rebuild`", "records/s", ",.0f", rebuild_rate, ">=", 5000.0),
    Target("broker CPU per decision, slope from 4 to 20 subscribers", "µs", ".0f", slope_us, "<", 270.0),
    *(
        Target(name, "ms", ".1f", low_load("jigsaw", part, key), plain=low_load("plain", part, key))
        for name, part, key in (
            ("low load, 1 return/s: p50", "steady", "p50_ms"),
            ("low load, 1 return/s: p99", "steady", "p99_ms"),
            ("burst, 50 returns for one referral: p50", "burst", "p50_ms"),
            ("burst, 50 returns for one referral: p99", "burst", "p99_ms"),
            ("burst, 50 returns for one referral: to the last view", "burst", "to_last_view_ms"),
        )
    ),
    Target(
        f"hub restart on {RESTART_REFERRALS:,} referrals, to the first served view", "s", ".2f", restart_s
    ),
)


def status(target: Target, value: Value) -> str:
    if target.op is None or target.limit is None:
        return "reported"
    return "met" if isinstance(value, float) and OPS[target.op](value, target.limit) else "missed"


def evaluate(targets: tuple[Target, ...], now: Results, before: Results) -> list[dict[str, Any]]:
    rows = []
    for t in targets:
        value = t.now(now)
        rows.append(
            {
                "target": t.name,
                "unit": t.unit,
                "op": t.op,
                "threshold": t.limit,
                "now": value,
                "plain": t.plain(now) if t.plain is not None else None,
                "plain_unit": (t.plain_unit or t.unit) if t.plain is not None else None,
                "before": t.now(before),
                "status": status(t, value),
            }
        )
    return rows


# -- printing --------------------------------------------------------------------------------------


def shown(value: Value | None, spec: str, unit: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    text = format(value, spec)
    return f"{text}{unit}" if unit in ("", "/s") else f"{text} {unit}"


def table(targets: tuple[Target, ...], rows: list[dict[str, Any]]) -> str:
    head = ("target", "threshold", "measured now", "plain pipeline", "before (978f0ca)", "")
    lines = []
    for t, r in zip(targets, rows, strict=True):
        threshold = (
            "reported"
            if t.op is None or t.limit is None
            else f"{SHOWN_OPS[t.op]} {shown(t.limit, ',g', t.unit)}"
        )
        plain = shown(r["plain"], t.plain_spec or t.spec, t.plain_unit or t.unit) if t.plain else ""
        mark = "" if r["status"] == "reported" else r["status"]
        lines.append(
            (
                t.name,
                threshold,
                shown(r["now"], t.spec, t.unit),
                plain,
                shown(r["before"], t.spec, t.unit),
                mark,
            )
        )
    widths = [max(len(row[i]) for row in [head, *lines]) for i in range(len(head))]

    def line(cells: tuple[str, ...]) -> str:
        first, *rest = cells
        return " | ".join(
            [first.ljust(widths[0]), *(c.rjust(w) for c, w in zip(rest, widths[1:], strict=True))]
        )

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(head), rule, *(line(cells) for cells in lines)])


def slope_detail(res: Results, label: str) -> str:
    four, twenty = broker_row(res, 4), broker_row(res, 20)
    slope = slope_us(res)
    if four is None or twenty is None or not isinstance(slope, float):
        return f"  {label}: not measured"
    return (
        f"  {label}: ({twenty['cpu_ms_per_return']:.3f} - {four['cpu_ms_per_return']:.3f}) ms per return"
        f" / ({decisions_per_return(twenty):.0f} - {decisions_per_return(four):.0f}) decisions per return"
        f" = {slope:.0f} µs per decision"
    )


def run(results: Path, before_dir: Path, since: float | None) -> tuple[dict[str, Any], Results, Results]:
    """What targets.json holds, and the two sets of results it was read from."""
    now, now_notes = load(results, since)
    before, before_notes = load(before_dir)
    rows = evaluate(TARGETS, now, before)
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("met", "missed", "reported")}
    result = {
        **report.meta(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(since)) if since else None,
        "sources": {
            "now": {name: now[name].get("finished_at") for name in now},
            "before": {name: before[name].get("finished_at") for name in before},
        },
        "notes": now_notes + [f"baseline {n}" for n in before_notes],
        "targets": rows,
        **counts,
    }
    return result, now, before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", type=Path, default=report.RESULTS, help="this run's results folder")
    ap.add_argument("--before", type=Path, default=BEFORE, help="the baseline's results folder")
    ap.add_argument(
        "--since", type=float, help="epoch seconds this run started: older results files are left out"
    )
    ap.add_argument("--out", type=Path, help="where to write the JSON (default: targets.json in --results)")
    a = ap.parse_args()
    result, now, before = run(a.results, a.before, a.since)
    print("\nissue #16's targets (2 cores, Kafka on the same machine)\n")
    print(table(TARGETS, result["targets"]))
    print("\nthe slope, broker in process:")
    print(slope_detail(now, "now"))
    print(slope_detail(before, "before"))
    print(
        f"\n{result['met']} met, {result['missed']} missed, {result['reported']} reported without a threshold"
    )
    for name, at in result["sources"]["now"].items():
        print(f"  {name}.json: {at}")
    for note in result["notes"]:
        print(f"  {note}")
    out = a.out or a.results / "targets.json"
    print(f"\nwritten to {report.shown(report.write(out, result))}")


if __name__ == "__main__":
    main()
