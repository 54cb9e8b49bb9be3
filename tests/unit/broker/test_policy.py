"""The policy file: validation that names the field, `policy check` and `policy explain`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from apps.cli import cli
from services.broker.check import check_policy
from services.broker.errors import PolicyError
from services.broker.policy import load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "devon-mash.yaml"


def _variant(tmp_path: Path, change) -> Path:  # type: ignore[no-untyped-def]
    doc = yaml.safe_load(POLICY.read_text())
    change(doc)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_the_shipped_example_is_valid_and_realistic() -> None:
    policy = load_policy(POLICY)
    agencies = {p.agency for p in policy.participants.values() if p.role == "AGENCY_CONNECTOR"}
    assert len(agencies) == 7
    assert len(policy.subscribers) >= 4
    assert check_policy(policy) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["rules"][1]["categories"].append("shoe_size"), "rules[1] (R-CSC-REFERRER).categories"),
        (lambda d: d["rules"][0]["roles"].append("JANITOR"), "no subscriber has role 'JANITOR'"),
        (lambda d: d["subscribers"]["csc-mash"].pop("role"), "subscribers.csc-mash.role: Field required"),
        (
            lambda d: d["categories"]["probation"]["originator_control"]["allowed_subscribers"].append("x"),
            "unknown subscriber 'x'",
        ),
        (lambda d: d["rules"][0].update(purposes=["GOSSIP"]), "rules.0.purposes.0"),
        (lambda d: d.update(review_threshold=1.5), "review_threshold"),
    ],
)
def test_errors_name_the_field_and_say_what_is_wrong(tmp_path: Path, change, expected: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PolicyError) as info:
        load_policy(_variant(tmp_path, change))
    assert expected in str(info.value)


def test_check_reports_rules_that_never_fire_and_rules_that_conflict(tmp_path: Path) -> None:
    def add(d: dict) -> None:  # type: ignore[type-arg]
        d["rules"].append(
            {
                "id": "R-SHADOWED",
                "roles": ["CSC_MASH_TEAM"],
                "categories": ["housing"],
                "purposes": ["TRIAGE"],
                "stages": ["RED"],
                "lawful_basis": "something else",
            }
        )
        d["rules"].append(
            {
                "id": "R-DEAD-SCREEN",
                "roles": ["CSC_MASH_TEAM"],
                "categories": ["housing"],
                "purposes": ["SCREENING"],
                "stages": ["SCREENING"],
            }
        )

    findings = {(f.rule_id, f.kind) for f in check_policy(load_policy(_variant(tmp_path, add)))}
    assert ("R-SHADOWED", "conflict") in findings
    assert ("R-SHADOWED", "never fires") in findings, "R-CSC-FULL decides everything it covers"
    assert ("R-DEAD-SCREEN", "never fires") in findings
    result = CliRunner().invoke(cli, ["policy", "check", str(tmp_path / "policy.yaml")])
    assert result.exit_code == 1
    assert "R-DEAD-SCREEN: never fires" in result.output


def test_explain_prints_the_decision_and_its_rule() -> None:
    args = [
        "policy",
        "explain",
        "--policy",
        str(POLICY),
        "--subscriber",
        "partner-hub",
        "--category",
        "housing",
        "--purpose",
        "EARLY_HELP",
        "--stage",
        "GREEN",
        "--consent",
        "REFUSED",
        "--on",
        "2026-11-26",
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "WITHHOLD by SYS-CONSENT-REFUSED" in result.output
