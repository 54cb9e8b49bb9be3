"""The tables ``python -m bench.e2e`` prints from its results."""

from __future__ import annotations

from typing import Any

from bench.kit import report
from bench.kit.world import SUBSCRIBERS


def tables(res: dict[str, Any]) -> str:
    out = []
    sh = res["shape"]
    out.append(
        f"\nend to end, connector publish -> hub view updated: returns of 3 sections ({sh['intel_bytes']} B"
        f" sealed), {len(SUBSCRIBERS)} subscribers ({sh['releases']} releases and {sh['audits']} audit"
        f" records per return); latency in ms from raw samples\n"
    )
    out.append(
        f"{'offered/s':>9} | {'jigsaw/s':>8} {'p50':>7} {'p95':>7} {'p99':>7} | {'plain/s':>8} {'p50':>7}"
        f" {'p95':>7} {'p99':>7} | {'p99 ours-plain':>14}"
    )
    for ours, plain in zip(res["jigsaw"], res["plain"], strict=True):
        lo, lp = ours["latency"], plain["latency"]
        diff = lo["p99_ms"] - lp["p99_ms"] if lo["p99_ms"] is not None and lp["p99_ms"] is not None else None
        out.append(
            f"{ours['offered_per_s']:>9} | {ours['delivered_per_s']:>8.0f} {report.fmt(lo['p50_ms']):>7}"
            f" {report.fmt(lo['p95_ms']):>7} {report.fmt(lo['p99_ms']):>7} | {plain['delivered_per_s']:>8.0f}"
            f" {report.fmt(lp['p50_ms']):>7} {report.fmt(lp['p95_ms']):>7} {report.fmt(lp['p99_ms']):>7} |"
            f" {report.fmt(diff, '+.1f', 'n/a (overloaded)'):>14}"
        )
    s = res["saturation"]
    out.append(
        f"{'saturated':>9} | {s['jigsaw']['throughput_per_s']:>8.0f} {'':>23} |"
        f" {s['plain']['throughput_per_s']:>8.0f} {'':>23} |"
        f" ratio {res['ratios']['saturation_ours_over_plain']:.3f}"
    )
    out.append("  (- : the quantile fell on returns not in a view by the end of the drain: overloaded)")
    out.append(
        "\nwhere the time goes, p50 / p99 ms: publish -> the middle stage hands the release to Kafka"
        " (connector, Kafka, broker or relay); then -> view updated (Kafka, hub or sink)\n"
    )
    out.append(
        f"{'offered/s':>9} | {'jigsaw: to release':>20} {'release to view':>17} | {'plain: to release':>19}"
        f" {'release to view':>17}"
    )

    def pair(q: dict[str, float | None]) -> str:
        return f"{report.fmt(q['p50_ms'])} / {report.fmt(q['p99_ms'])}"

    for ours, plain in zip(res["jigsaw"], res["plain"], strict=True):
        lo, lp = ours["latency"], plain["latency"]
        out.append(
            f"{ours['offered_per_s']:>9} | {pair(lo['to_release']):>20} {pair(lo['release_to_view']):>17} |"
            f" {pair(lp['to_release']):>19} {pair(lp['release_to_view']):>17}"
        )
    out.extend(low_load(res))
    out.append("\nCPU ms per return, CPU utilisation and peak RSS, per process, over each measured window\n")
    out.append(
        f"{'pipeline':<8} {'load':>9}  "
        + "  ".join(f"{n:>22}" for n in ("source", "middle", "view", "kafka"))
        + f"  {'others':>6}"
    )
    for pipeline in ("jigsaw", "plain"):
        steps = [*res[pipeline], {**res["saturation"][pipeline], "offered_per_s": "saturated"}]
        for step in steps:
            cells = []
            procs = step["processes"]
            names = (
                ("connector", "broker", "hub", "kafka")
                if pipeline == "jigsaw"
                else ("source", "relay", "sink", "kafka")
            )
            for name in names:
                p = procs.get(name)
                if p is None:
                    cells.append(f"{'-':>22}")
                    continue
                rss = f"{p['peak_rss_mb']:.0f}MB" if p["peak_rss_mb"] is not None else ""
                cells.append(
                    f"{report.fmt(p['cpu_ms_per_return'], '.2f')}ms {p['cpu_util'] * 100:4.0f}% {rss:>6}"
                )
            others = f"{step['machine']['other_cores']:>6.2f}"
            out.append(
                f"{pipeline:<8} {step['offered_per_s']!s:>9}  "
                + "  ".join(f"{c:>22}" for c in cells)
                + "  "
                + others
            )
    out.append(
        "  (source = connector or plain producer, middle = broker or relay, view = hub or sink; others ="
        " cores used by other jobs on the machine meanwhile)"
    )
    return "\n".join(out)


def low_load(res: dict[str, Any]) -> list[str]:
    """The quiet pipeline: a return a second, then one referral's burst (absent from older results)."""
    low = res.get("low_load") or {}
    if not low:
        return []
    plan = res.get("plan", {})
    out = [
        f"\nlow load, latency in ms: 1 return a second for {plan.get('low_s', 0):.0f} s, then"
        f" {plan.get('burst', 0)} returns for one referral published at once (last = from the first"
        " publish to the last view)\n",
        f"{'':<16} | {'jigsaw p50':>10} {'p99':>7} {'last':>7} | {'plain p50':>9} {'p99':>7} {'last':>7}",
    ]

    def cells(pipeline: str, part: str) -> str:
        got = low.get(pipeline, {}).get(part)
        if got is None:
            return f"{'-':>7} {'-':>7} {'-':>7}"
        lat = got["latency"]
        last = got.get("to_last_view_ms", lat["max_ms"])
        return f"{report.fmt(lat['p50_ms']):>7} {report.fmt(lat['p99_ms']):>7} {report.fmt(last):>7}"

    for part, label in (("steady", "1 return/s"), ("burst", "burst, 1 ref")):
        out.append(f"{label:<16} | {'':>3}{cells('jigsaw', part)} | {'':>2}{cells('plain', part)}")
    others = ", ".join(
        f"{p} {low[p]['machine']['other_cores']:.2f}"
        for p in ("jigsaw", "plain")
        if "machine" in low.get(p, {})
    )
    out.append(f"  (1 return/s: last = the slowest return; cores used by other jobs meanwhile: {others})")
    return out
