"""`jigsaw report`: the measures a MASH is judged by, for a period, printed from a hub's case store
(found by --store, --state-dir, or the subscriber's default from JIGSAW_HUB__STATE_DIR), as a table or
as JSON, with each share beside its denominator and no division by zero for an empty period."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from jigsaw.bus.store import Store
from services.hub import store as hub_store
from tests.unit.hub.kit import at, fill

# The module, not the command of the same name that apps.cli exports.
report_cli = importlib.import_module("apps.cli.report")

NOVEMBER = ["--from", "2026-11-01", "--to", "2026-11-30"]


@pytest.fixture
def state_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A state directory holding csc-mash's store, filled with November 2026's facts (the hub test kit's),
    read as of Tuesday 1 December, 11:00."""
    path = tmp_path / "state"
    path.mkdir()
    s = Store(path / "hub-csc-mash.sqlite", hub_store.SCHEMA)
    s.open()
    try:
        fill(s)
    finally:
        s.close()
    monkeypatch.setattr(report_cli, "now_micros", lambda: at(2026, 12, 1, 11))
    monkeypatch.setenv("JIGSAW_HUB__STATE_DIR", str(path))
    monkeypatch.setenv("COLUMNS", "160")
    return path


def _run(*args: str) -> Result:
    return CliRunner().invoke(report_cli.report, list(args), catch_exceptions=False)


def test_the_table_gives_each_measure_with_its_denominator(state_dir: Path) -> None:
    result = _run("--subscriber", "csc-mash", *NOVEMBER)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "contacts received: 5" in out
    assert "decided: 3/5 (60%) (1 awaiting a decision, not yet due)" in out
    assert "decided within one working day: 2/5 (40%)" in out
    assert "re-referral rate: 2/5 (40%)" in out
    lines = out.splitlines()
    rows = [[c.strip() for c in line.strip("│ ").split("│")] for line in lines if "│" in line]
    # Each route's decided contacts, their share of the 3 decided, and Devon's evaluation beside it.
    assert ["children's social care (s17, s47, protection)", "2", "2/3 (67%)", "48%"] in rows
    assert ["early help / early response", "1", "1/3 (33%)", "24%"] in rows
    assert ["no further action, information and advice", "0", "0/3 (0%)", "-"] in rows
    # sent 4, answered 3, on time 2 of the 3 answered or past due, 1 pending, median 3.0, p90 6.0
    assert ["police", "4", "3", "2/3 (67%)", "1", "3.0", "6.0"] in rows
    assert ["health", "1", "0", "0/1 (0%)", "0", "-", "-"] in rows
    assert "median (working hours)" in out


def test_json_from_a_store_named_by_path(state_dir: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere.sqlite"
    (state_dir / "hub-csc-mash.sqlite").rename(moved)
    result = _run("--subscriber", "csc-mash", *NOVEMBER, "--store", str(moved), "--json")
    assert result.exit_code == 0, result.output
    m = json.loads(result.output)
    assert (m["first"], m["last"], m["unit"]) == ("2026-11-01", "2026-11-30", "working hours")
    assert m["contacts"]["received"] == 5
    assert m["contacts"]["within_one_working_day_share"] == pytest.approx(0.4)
    assert m["split"]["shares"]["childrens_social_care"] == pytest.approx(2 / 3)
    assert m["split"]["devon_evaluation"] == {"childrens_social_care": 0.48, "early_help": 0.24}
    health, police = m["responses"]
    assert (police["agency"], police["on_time_share"], police["p90"]) == ("police", pytest.approx(2 / 3), 6.0)
    assert (health["agency"], health["on_time_share"], health["median"]) == ("health", 0.0, None)
    assert m["referrals"]["re_referral_rate"] == pytest.approx(0.4)


def test_an_empty_period_says_so(state_dir: Path) -> None:
    result = _run("--subscriber", "csc-mash", "--from", "2025-01-01", "--to", "2025-01-31")
    assert result.exit_code == 0, result.output
    assert "no contacts in this period" in result.output
    assert "no enquiries sent in this period" in result.output
    result = _run("--subscriber", "csc-mash", "--from", "2025-01-01", "--to", "2025-01-31", "--json")
    assert json.loads(result.output)["contacts"]["within_one_working_day_share"] is None


def test_no_store_names_the_path_it_looked_at(state_dir: Path, tmp_path: Path) -> None:
    result = _run("--subscriber", "police-mash", *NOVEMBER)
    assert result.exit_code == 1
    assert f"no case store at {state_dir / 'hub-police-mash.sqlite'}" in result.output
    result = _run("--subscriber", "csc-mash", *NOVEMBER, "--state-dir", str(tmp_path), "--json")
    assert result.exit_code == 1
    assert f"no case store at {tmp_path / 'hub-csc-mash.sqlite'}" in result.output
    result = _run("--subscriber", "csc-mash", *NOVEMBER, "--state-dir", str(state_dir), "--json")
    assert json.loads(result.output)["contacts"]["received"] == 5
    missing = tmp_path / "nothing.sqlite"
    result = _run("--subscriber", "csc-mash", *NOVEMBER, "--store", str(missing))
    assert result.exit_code == 1
    assert f"no case store at {missing}" in result.output
    assert not missing.exists(), "a report creates no store"
    other = tmp_path / "other.sqlite"
    plain = Store(other)
    plain.open()
    plain.close()
    result = _run("--subscriber", "csc-mash", *NOVEMBER, "--store", str(other))
    assert result.exit_code == 1
    assert f"{other} is not a hub case store" in result.output


def test_the_period_must_not_end_before_it_starts(state_dir: Path) -> None:
    result = CliRunner().invoke(
        report_cli.report, ["--subscriber", "csc-mash", "--from", "2026-11-30", "--to", "2026-11-01"]
    )
    assert result.exit_code == 2
    assert "--to is before --from" in result.output
