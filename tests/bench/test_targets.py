"""``bench.targets`` reads the benchmarks' results and calls each target met or missed.

Hand-made results only: nothing here runs a benchmark or depends on how fast anything is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bench import targets
from bench.targets import NOT_MEASURED, OVERLOADED


def e2e(**over: Any) -> dict[str, Any]:
    def step(rate: int, p99: float | None) -> dict[str, Any]:
        return {"offered_per_s": rate, "latency": {"p50_ms": 5.0, "p99_ms": p99}}

    data: dict[str, Any] = {
        "finished_at": "2026-12-01T10:00:00+0000",
        "jigsaw": [step(100, 40.0), step(400, None)],
        "plain": [step(100, 9.0), step(400, 12.0)],
        "saturation": {
            "jigsaw": {"throughput_per_s": 900.0, "processes": {"broker": {"cpu_ms_per_return": 0.9}}},
            "plain": {"throughput_per_s": 3000.0, "processes": {"relay": {"cpu_ms_per_return": 0.25}}},
        },
        "ratios": {"saturation_ours_over_plain": 0.3},
        "low_load": {
            "jigsaw": {
                "steady": {"latency": {"p50_ms": 11.0, "p99_ms": 19.0}},
                "burst": {"latency": {"p50_ms": 80.0, "p99_ms": 150.0}, "to_last_view_ms": 160.0},
            }
        },
    }
    return data | over


def broker(four: dict[str, Any], twenty: dict[str, Any]) -> dict[str, Any]:
    return {
        "finished_at": "2026-12-01T10:00:00+0000",
        "in_process": [{"subscribers": 4, **four}, {"subscribers": 20, **twenty}],
    }


def scale(rate: int = 6000, restart: float | None = 1.5) -> dict[str, Any]:
    return {
        "finished_at": "2026-12-01T10:00:00+0000",
        "stores": [
            {"referrals": 100_000, "restart_to_first_view_s": restart},
            {"referrals": 1_000_000, "restart_to_first_view_s": 9.0},
        ],
        "rebuild": {"records_per_s": rate},
    }


def by_name(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {r["target"]: r for r in rows}


def test_the_slope_is_the_extra_cpu_per_extra_decision() -> None:
    res = {
        "broker": broker(
            {"cpu_ms_per_return": 3.0, "decisions_per_return": 12},
            {
                "cpu_ms_per_return": 15.0,
                "decisions_per_return": 60,
            },
        )
    }
    assert targets.slope_us(res) == pytest.approx(250.0)


def test_the_slope_of_results_without_decisions_per_return_comes_from_the_cpu_per_decision() -> None:
    # The baseline's broker.json records CPU per return and per decision, not decisions per return.
    res = {
        "broker": broker(
            {"cpu_ms_per_return": 3.337, "cpu_us_per_decision": 278.1},
            {"cpu_ms_per_return": 15.351, "cpu_us_per_decision": 255.8},
        )
    }
    assert targets.slope_us(res) == pytest.approx((15.351 - 3.337) * 1e3 / 48, rel=1e-3)


def test_a_slope_with_a_row_missing_is_not_measured() -> None:
    res = {
        "broker": {"in_process": [{"subscribers": 4, "cpu_ms_per_return": 3.0, "decisions_per_return": 12}]}
    }
    assert targets.slope_us(res) == NOT_MEASURED


def test_each_target_is_met_or_missed_against_its_threshold() -> None:
    now = {
        "e2e": e2e(),
        "broker": broker(
            {"cpu_ms_per_return": 1.0, "decisions_per_return": 12},
            {"cpu_ms_per_return": 14.0, "decisions_per_return": 60},
        ),
        "scale": scale(rate=4999),
    }
    rows = by_name(targets.evaluate(targets.TARGETS, now, {}))
    cpu = rows["broker CPU per return, 4 subscribers, in the pipeline (saturated)"]
    assert (cpu["now"], cpu["plain"], cpu["status"]) == (0.9, 0.25, "met")
    ratio = rows["saturation, over the plain pipeline's (same run)"]
    assert (ratio["now"], ratio["plain"], ratio["status"]) == (0.3, 3000.0, "met")
    p100 = rows["end-to-end p99 at 100 returns/s"]
    assert (p100["now"], p100["plain"], p100["status"]) == (40.0, 9.0, "met")
    # An overloaded step has no p99: missed, and said so.
    p400 = rows["end-to-end p99 at 400 returns/s"]
    assert (p400["now"], p400["plain"], p400["status"]) == (OVERLOADED, 12.0, "missed")
    assert rows["`jigsaw hub rebuild`"]["status"] == "missed"
    slope = rows["broker CPU per decision, slope from 4 to 20 subscribers"]
    assert slope["now"] == pytest.approx(270.8, abs=0.1)
    assert slope["status"] == "missed"


def test_figures_absent_are_not_measured_and_missed() -> None:
    rows = targets.evaluate(targets.TARGETS, {}, {})
    assert all(r["now"] == NOT_MEASURED and r["before"] == NOT_MEASURED for r in rows)
    assert {r["status"] for r in rows if r["threshold"] is not None} == {"missed"}


def test_low_load_and_restart_are_reported_without_a_threshold() -> None:
    rows = by_name(targets.evaluate(targets.TARGETS, {"e2e": e2e(), "scale": scale()}, {}))
    burst = rows["burst, 50 returns for one referral: to the last view"]
    assert (burst["now"], burst["plain"], burst["status"]) == (160.0, NOT_MEASURED, "reported")
    assert rows["low load, 1 return/s: p99"]["now"] == 19.0
    restart = rows["hub restart on 100,000 referrals, to the first served view"]
    assert (restart["now"], restart["status"], restart["threshold"]) == (1.5, "reported", None)


def test_the_baseline_fills_the_before_column() -> None:
    rows = by_name(targets.evaluate(targets.TARGETS, {}, {"scale": scale(rate=787)}))
    rebuild = rows["`jigsaw hub rebuild`"]
    assert (rebuild["now"], rebuild["before"], rebuild["status"]) == (NOT_MEASURED, 787.0, "missed")


def test_results_older_than_the_run_are_left_out(tmp_path: Path) -> None:
    (tmp_path / "scale.json").write_text(json.dumps(scale()))
    (tmp_path / "broker.json").write_text(
        json.dumps({**broker({}, {}), "finished_at": "2026-12-01T12:00:00+0000"})
    )
    since = targets.finished({"finished_at": "2026-12-01T11:00:00+0000"})
    got, notes = targets.load(tmp_path, since)
    assert set(got) == {"broker"}
    assert any("e2e.json: missing" in n for n in notes)
    assert any("scale.json: from an earlier run" in n for n in notes)
    assert set(targets.load(tmp_path)[0]) == {"broker", "scale"}


def test_the_table_prints_every_target_and_not_measured(tmp_path: Path) -> None:
    result, now, _ = targets.run(tmp_path, tmp_path / "before", None)
    assert result["met"] == 0
    assert result["missed"] == sum(1 for t in targets.TARGETS if t.op is not None)
    text = targets.table(targets.TARGETS, result["targets"])
    assert all(t.name in text for t in targets.TARGETS)
    assert NOT_MEASURED in text
    assert now == {}
