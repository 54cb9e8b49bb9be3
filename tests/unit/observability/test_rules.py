"""The Prometheus rules: promtool checks and unit-tests them, and every alert is tested, linked to its
runbook section and built from metrics the services expose."""

from __future__ import annotations

import re
import subprocess

import pytest
import yaml

from devkit import apt
from tests.unit.observability.registries import REPO, RULES, known, rules, selected

TESTS = sorted((REPO / "deploy" / "prometheus" / "tests").glob("*.yml"))
RUNBOOK = REPO / "docs" / "runbook.md"
RUNBOOK_URL = "https://github.com/jigsaw/jigsaw/blob/main/docs/runbook.md#"


def _promtool(*args: str) -> None:
    promtool = apt.require("prometheus", "promtool")
    result = subprocess.run(
        [str(promtool), *args], capture_output=True, text=True, check=False, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def _alerts() -> list[dict[str, object]]:
    return [rule for rule in rules() if "alert" in rule]


def test_the_rules_files_are_where_the_tests_look() -> None:
    assert RULES
    assert TESTS
    assert len(_alerts()) >= 15


def test_promtool_accepts_the_rules() -> None:
    _promtool("check", "rules", *(str(p.relative_to(REPO)) for p in RULES))


def test_promtool_unit_tests_pass() -> None:
    _promtool("test", "rules", *(str(p.relative_to(REPO)) for p in TESTS))


def _duration_s(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
    return sum(float(n) * units[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)", text))


def _fired_and_cleared() -> tuple[set[str], set[str]]:
    """Alerts some test expects firing, and those a test of the same group then expects cleared later."""
    fired: set[str] = set()
    cleared: set[str] = set()
    for path in TESTS:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            first_fire: dict[str, float] = {}
            checks = sorted(test.get("alert_rule_test", []), key=lambda c: _duration_s(c["eval_time"]))
            for check in checks:
                name, at = check["alertname"], _duration_s(check["eval_time"])
                if check.get("exp_alerts"):
                    fired.add(name)
                    first_fire.setdefault(name, at)
                elif name in first_fire and at > first_fire[name]:
                    cleared.add(name)
    return fired, cleared


@pytest.mark.parametrize("alert", [str(a["alert"]) for a in _alerts()])
def test_every_alert_has_a_test_that_fires_it_and_then_clears_it(alert: str) -> None:
    fired, cleared = _fired_and_cleared()
    assert alert in fired, f"no promtool test expects {alert} to fire"
    assert alert in cleared, f"no promtool test expects {alert} to clear after it fired"


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens."""
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*$", markdown, flags=re.MULTILINE):
        out.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return out


@pytest.mark.parametrize("alert", _alerts(), ids=lambda a: str(a["alert"]))
def test_every_alert_has_labels_annotations_and_a_runbook_section(alert: dict[str, object]) -> None:
    labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
    assert isinstance(labels, dict)
    assert isinstance(annotations, dict)
    assert labels.get("severity") in ("critical", "warning", "info")
    assert annotations.get("summary")
    assert annotations.get("description")
    url = str(annotations.get("runbook_url", ""))
    assert url.startswith(RUNBOOK_URL), url
    assert url.removeprefix(RUNBOOK_URL) in _anchors(RUNBOOK.read_text(encoding="utf-8")), url


def test_the_anchor_rule_follows_github() -> None:
    assert _anchors("## What to do: now (or later)\n# JigsawX\n") == {"what-to-do-now-or-later", "jigsawx"}


@pytest.mark.parametrize("rule", rules(), ids=lambda r: str(r.get("alert") or r.get("record")))
def test_every_metric_a_rule_names_is_exposed_or_recorded(rule: dict[str, object]) -> None:
    missing = selected(str(rule["expr"])) - known()
    assert not missing, f"not in any service's registry nor recorded: {sorted(missing)}"
