from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from apps.cli import cli


def test_synth_generate_writes_a_town_and_prints_what_each_agency_holds(tmp_path: Path) -> None:
    out = tmp_path / "town"
    args = [
        "synth",
        "generate",
        "--out",
        str(out),
        "--households",
        "40",
        "--seed",
        "3",
        "--today",
        "2026-11-02",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "40 households" in result.output
    for agency in ("police", "health", "education", "socialcare", "probation", "youthjustice", "housing"):
        assert agency in result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert (manifest["seed"], manifest["today"], manifest["households"]) == (3, "2026-11-02", 40)
    assert {p.name for p in out.iterdir()} >= {
        "police.sqlite", "health.sqlite", "socialcare.sqlite", "probation.sqlite", "youthjustice.sqlite",
        "housing.sqlite", "education", "town.sqlite", "manifest.json",
    }  # fmt: skip


def test_synth_health_api_refuses_a_folder_with_no_town(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["synth", "health-api", "--data", str(tmp_path)])
    assert result.exit_code != 0
    assert "jigsaw synth generate" in result.output
