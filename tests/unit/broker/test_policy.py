"""The policy file: validation that names the field, `policy check` and `policy explain`."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from apps.cli import cli
from services.broker.check import check_policy
from services.broker.errors import PolicyError
from services.broker.policy import Policy, load_policy

POLICY = Path(__file__).resolve().parents[3] / "deploy" / "policy" / "devon-mash.yaml"
# Each rule's index in the shipped file: the messages name a rule by index and id, and rules move.
AT = {r["id"]: i for i, r in enumerate(yaml.safe_load(POLICY.read_text())["rules"])}
REFERRER, FULL = AT["R-CSC-REFERRER"], AT["R-CSC-FULL"]


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
        (
            lambda d: d["rules"][REFERRER]["categories"].append("shoe_size"),
            f"rules[{REFERRER}] (R-CSC-REFERRER).categories: unknown category 'shoe_size'",
        ),
        (lambda d: d["rules"][0]["roles"].append("JANITOR"), "no subscriber has role 'JANITOR'"),
        (lambda d: d["subscribers"]["csc-mash"].pop("role"), "subscribers.csc-mash.role: Field required"),
        (
            lambda d: d["categories"]["probation"]["originator_control"]["allowed_subscribers"].append("x"),
            "unknown subscriber 'x'",
        ),
        (lambda d: d["rules"][0].update(purposes=["GOSSIP"]), "rules.0.purposes.0"),
        (lambda d: d.update(review_threshold=1.5), "review_threshold"),
        # The fields issue #15 added name themselves too.
        (
            lambda d: d["categories"]["contact_probation"].update(reveals="mappa"),
            "categories.contact_probation.reveals: unknown category 'mappa'",
        ),
        (
            lambda d: d["participants"]["probation.devon"].update(reveals="sex_offenders"),
            "participants.probation.devon.reveals: unknown category 'sex_offenders'",
        ),
        (lambda d: d.update(screening_desk="hub.devon"), "screening_desk: 'hub.devon' is not a subscriber"),
        (
            lambda d: d["rules"][REFERRER].update(allow_redacted=["TRIAGE", "GOSSIP"]),
            f"rules.{REFERRER}.allow_redacted",
        ),
        (
            lambda d: d["rules"][FULL].update(allow_redacted=["EARLY_HELP"]),
            f"rules[{FULL}] (R-CSC-FULL).allow_redacted: "
            "purpose EARLY_HELP is not one of the rule's purposes",
        ),
        (lambda d: d["rules"][0].update(stages=["CLOSED"]), "rules.0.stages.0"),
        (lambda d: d["categories"]["housing"].update(redacted="SOMETIMES"), "categories.housing.redacted"),
        (lambda d: d["purposes"]["TRIAGE"].pop("article_6"), "purposes.TRIAGE.article_6: Field required"),
        (lambda d: d["purposes"]["TRIAGE"].update(lawful_basis="x"), "purposes.TRIAGE.lawful_basis: Extra"),
        (
            lambda d: d["purposes"]["S17_ASSESSMENT"].pop("article_10"),
            "purposes.S17_ASSESSMENT.article_10: a rule releases data that needs it for S17_ASSESSMENT",
        ),
        (
            lambda d: d["purposes"]["EARLY_HELP"].pop("dpa_condition"),
            "purposes.EARLY_HELP.dpa_condition",
        ),
        (
            lambda d: d["agreement"].pop("appropriate_policy_document"),
            "agreement.appropriate_policy_document: special-category or criminal-offence data",
        ),
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
                "stages": ["RED", "AMBER"],
            }
        )
        d["rules"].append(
            {
                "id": "R-DEAD-SAFE-CONTACT",
                "roles": ["CSC_MASH_TEAM"],
                "categories": ["victim_safe_contact"],
                "purposes": ["S47_ENQUIRY"],
            }
        )

    findings = {(f.rule_id, f.kind) for f in check_policy(load_policy(_variant(tmp_path, add)))}
    assert ("R-SHADOWED", "conflict") in findings
    assert ("R-SHADOWED", "never fires") in findings, "R-CSC-FULL decides everything it covers"
    assert ("R-DEAD-SCREEN", "never fires") in findings, "screening is never a live purpose at Red"
    assert ("R-DEAD-SAFE-CONTACT", "never fires") in findings, "safe contact details are always redacted"
    result = CliRunner().invoke(cli, ["policy", "check", str(tmp_path / "policy.yaml")])
    assert result.exit_code == 1
    assert "R-DEAD-SCREEN: never fires: none of its purposes is live at any of its stages" in result.output
    assert "R-DEAD-SAFE-CONTACT: never fires: its categories are all redacted" in result.output


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


def _explain(*args: str) -> str:
    result = CliRunner().invoke(
        cli, ["policy", "explain", "--policy", str(POLICY), "--on", "2026-11-26", *args]
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_explain_shows_purpose_lawful_basis_and_rule_for_any_cell() -> None:
    """Issue #15, done when: `jigsaw policy explain` shows, for any cell, the purpose, the lawful basis and
    the rule. A police disclosure cites DPA 2018 Part 3; criminal-offence data Art 10 and Sch 1 para 18."""
    out = _explain(
        "--subscriber",
        "csc-mash",
        "--category",
        "police_incidents",
        "--stage",
        "RED",
        "--source",
        "police.devon",
    )
    policy = load_policy(POLICY)
    tri = policy.purposes["TRIAGE"]
    assert "RELEASE by R-CSC-FULL" in out
    assert f"purpose: TRIAGE ({tri.description})" in out
    assert f"legal reason: {tri.legal_reason}" in out
    for condition in (tri.article_6, tri.article_10, tri.dpa_condition, tri.part_3):
        assert condition is not None
        assert condition in out
    assert "rule: R-CSC-FULL: At Red or Amber" in out
    assert "agreement: DEVON-MASH-ISA-2026 (appropriate policy document DEVON-MASH-APD-2026)" in out


def test_explain_takes_the_new_stages_purposes_referrers_markers_and_sources() -> None:
    """The stage's live purposes decide unless one is named: after a decision, late information reaches
    the decision makers (the screening desk, assigned or not)."""
    late = _explain(
        "--subscriber", "csc-mash", "--category", "housing", "--stage", "DECIDED", "--not-assigned"
    )
    assert "RELEASE by R-CSC-LATE" in late
    assert "purpose: LATE_INFORMATION" in late
    cell = ["--subscriber", "csc-mash", "--category", "referrer_identity", "--stage", "RED"]
    public = _explain(*cell, "--referrer-type", "PUBLIC")
    assert "WITHHOLD by SYS-REDACTED" in public
    assert "lawful basis: none" in public
    assert "RELEASE by R-CSC-REFERRER" in _explain(*cell, "--referrer-type", "PROFESSIONAL")
    marked = _explain("--subscriber", "police-mash", "--category", "address", "--stage", "S47", "--marked")
    assert "WITHHOLD by SYS-CONFIDENTIAL-ADDRESS" in marked
    scoped = _explain(
        "--subscriber",
        "health-mash",
        "--category",
        "contact",
        "--stage",
        "SCREENING",
        "--source",
        "probation.devon",
    )
    assert "WITHHOLD by SYS-SCOPED-CONTACT" in scoped
    assert "agreement rule that would apply: R-KNOWN-CONTACT" in scoped
    sd = _explain(
        "--subscriber",
        "police-mash",
        "--category",
        "health_summary",
        "--stage",
        "STRATEGY_DISCUSSION",
        "--purpose",
        "STRATEGY_DISCUSSION",
    )
    assert "RELEASE by R-POLICE-S47-HEALTH" in sd
    assert "purpose: STRATEGY_DISCUSSION" in sd
    override = _explain(
        "--subscriber",
        "partner-hub",
        "--category",
        "housing",
        "--stage",
        "EARLY_HELP",
        "--consent",
        "OVERRIDE",
    )
    assert "WITHHOLD by SYS-CONSENT-AWAITED" in override, "an override never opens early help"


def test_only_the_front_door_may_record_consent(tmp_path: Path) -> None:
    """Only the MASH records consent (DOMAIN "Consent, per person"): not an agency, nor a desk's hub, even
    where a policy's senders or sends would let them."""
    policy = load_policy(POLICY)
    assert policy.may_send("hub.devon", "CONSENT")
    assert not policy.may_send("hub.police-mash", "CONSENT")
    assert not policy.may_send("housing.devon", "CONSENT")

    def widen(d: dict) -> None:  # type: ignore[type-arg]
        d["participants"]["hub.police-mash"]["sends"] = ["DECISION", "CONSENT"]
        d["senders"]["AGENCY_CONNECTOR"] = ["INTEL", "REPORT", "CONSENT"]

    wider: Policy = load_policy(_variant(tmp_path, widen))
    assert not wider.may_send("hub.police-mash", "CONSENT"), "a desk's hub is not the front door"
    assert not wider.may_send("housing.devon", "CONSENT"), "an agency never records consent"
    assert wider.may_send("hub.police-mash", "DECISION")
