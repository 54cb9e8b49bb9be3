"""docs/policy.md reads the example agreement to an information governance lead: it must say what the
policy file says, so a reader can rely on it and a change to the policy that the page misses fails here.

- Every rule id, category, purpose, participant and value the page names exists in
  deploy/policy/devon-mash.yaml (or is one of the broker's own refusal ids), and every rule is mentioned.
- The who-sees-what table is the broker's own decision (services/broker/decide.py) for every desk,
  category and stage, under the assumptions the page states.
- Every `jigsaw policy explain` command on the page runs as written and answers as the page shows.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from apps.cli import cli
from services.broker.decide import Context, decide, decide_live
from services.broker.policy import SystemRule, load_policy
from services.broker.stages import LIVE_PURPOSES

REPO = Path(__file__).resolve().parents[2]
DOC = (REPO / "docs" / "policy.md").read_text(encoding="utf-8")
POLICY_PATH = REPO / "deploy" / "policy" / "devon-mash.yaml"
RAW = yaml.safe_load(POLICY_PATH.read_text(encoding="utf-8"))
LETTERS = {"C": "csc-mash", "P": "police-mash", "H": "health-mash", "E": "partner-hub"}
STAGE_COLUMNS = list(LIVE_PURPOSES)


def _words(node: Any) -> set[str]:
    """Every key and scalar anywhere in the policy file, as text."""
    if isinstance(node, dict):
        return {str(k) for k in node} | {w for v in node.values() for w in _words(v)}
    if isinstance(node, list):
        return {w for v in node for w in _words(v)}
    return {str(node)}


def _audit_words() -> set[str]:
    schema = json.loads((REPO / "schemas" / "body" / "AuditRecord.v4.avsc").read_text(encoding="utf-8"))
    words = {f["name"] for f in schema["fields"]}
    for f in schema["fields"]:
        for t in f["type"] if isinstance(f["type"], list) else [f["type"]]:
            if isinstance(t, dict) and t.get("type") == "enum":
                words |= set(t["symbols"])
    return words | {"CONFIDENTIAL_ADDRESS", "THIRD_PARTY", "PUBLIC_REFERRER", "referral-wide"}


def test_every_rule_in_the_policy_is_mentioned_and_every_rule_mentioned_exists() -> None:
    rules = {r["id"] for r in RAW["rules"]}
    # A rule id is R- and words; a referral id (R-01J9...) starts with a digit.
    named = set(re.findall(r"\bR-[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*\b", DOC))
    assert named - rules == set(), "rules the page names that the policy does not have"
    assert rules - named == set(), "rules of the policy the page never mentions"


def test_every_refusal_the_page_names_is_one_the_broker_gives() -> None:
    named = set(re.findall(r"\b(?:SYS-[A-Z-]*[A-Z]|DEFAULT-DENY)\b", DOC))
    assert named
    assert named - {r.value for r in SystemRule} == set()


def test_every_name_in_backticks_is_in_the_policy_or_the_audit_record() -> None:
    known = _words(RAW) | _audit_words() | {r.value for r in SystemRule} | set(LIVE_PURPOSES)
    names = {t for t in re.findall(r"`([^`\s]+)`", DOC) if re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", t)}
    assert names - known == set(), "names on the page that are in neither the policy nor the audit record"


def _table() -> list[tuple[str, str, list[set[str]], list[str]]]:
    """The who-sees-what rows: (category, source, desks per stage, the rules named)."""
    rows = []
    for line in DOC.splitlines():
        m = re.fullmatch(r"\| `([a-z_]+)`(?: from `([a-z.]+)`)? \|(.*)\| ([^|]*) \|", line)
        if m is None:
            continue
        cells = [c.strip() for c in m.group(3).split("|")]
        desks = [set() if c == "-" else {LETTERS[x] for x in c.split()} for c in cells]
        rows.append((m.group(1), m.group(2) or "", desks, re.findall(r"R-[A-Z0-9-]+", m.group(4))))
    return rows


def test_the_table_has_one_row_per_category_and_a_column_per_stage() -> None:
    rows = _table()
    assert {c for c, src, _, _ in rows if not src} == set(RAW["categories"])
    assert all(len(desks) == len(STAGE_COLUMNS) for _, _, desks, _ in rows)
    header = next(ln for ln in DOC.splitlines() if ln.startswith("| category | screening"))
    assert len(header.strip("|").split("|")) == len(STAGE_COLUMNS) + 2


def _source(category: str, given: str) -> str:
    """Where a section of ``category`` comes from, as the page assumes: the one named, else an agency whose
    name reveals nothing (a competent authority's where only one publishes it)."""
    if given:
        return given
    parts = RAW["participants"]
    publishers = [p for p, v in parts.items() if category in v.get("publishes", [])]
    plain = [p for p in publishers if not parts[p].get("reveals") and not parts[p].get("competent_authority")]
    return str((plain or publishers or [""])[0])


@pytest.mark.parametrize("row", _table(), ids=lambda r: f"{r[0]}{'-' + r[1] if r[1] else ''}")
def test_the_table_is_what_the_broker_decides(row: tuple[str, str, list[set[str]], list[str]]) -> None:
    category, source, desks, rules = row
    policy = load_policy(POLICY_PATH)
    decided, released_by = [], []
    for stage in STAGE_COLUMNS:
        got = set()
        for sub in LETTERS.values():
            # Every desk assigned, a professional referrer, the family agreed to early help, no marker.
            ctx = Context(
                sub,
                category,
                None,
                stage,
                consent="GIVEN",
                referrer_type="PROFESSIONAL",
                source=_source(category, source),
            )
            d = decide_live(
                lambda c: decide(policy, c, date(2026, 6, 1)),
                ctx,
                LIVE_PURPOSES[stage],
                sub == policy.screening_desk,
            )
            if d.outcome == "RELEASE":
                got.add(sub)
                released_by += [d.rule_id] if d.rule_id not in released_by else []
        decided.append(got)
    assert dict(zip(STAGE_COLUMNS, desks, strict=True)) == dict(zip(STAGE_COLUMNS, decided, strict=True))
    assert sorted(rules) == sorted(released_by)


def test_each_purpose_is_explained_with_its_legal_reason() -> None:
    for name, purpose in RAW["purposes"].items():
        line = next((ln for ln in DOC.splitlines() if ln.startswith(f"| `{name}` |")), None)
        assert line is not None, f"no row for {name}"
        assert purpose["legal_reason"] in line, name


def test_the_agreement_is_named_as_in_the_policy() -> None:
    agreement = RAW["agreement"]
    for value in (agreement["name"], agreement["reference"], agreement["appropriate_policy_document"]):
        assert value in DOC
    assert RAW["version"] in DOC
    assert f"{agreement['in_force_from']} to {agreement['in_force_to']}" in DOC
    for signatory in agreement["signatories"]:
        assert f"`{signatory}`" in DOC


def _explained() -> list[tuple[str, str]]:
    """Each `jigsaw policy explain` command on the page, with the first line of the answer shown under it."""
    lines, out = DOC.splitlines(), []
    for i, line in enumerate(lines):
        if line.startswith(".venv/bin/jigsaw policy explain "):
            out.append((line.removeprefix(".venv/bin/jigsaw "), lines[i + 1].removeprefix("# ")))
    return out


@pytest.mark.parametrize(("command", "answer"), _explained())
def test_each_explain_command_on_the_page_answers_as_shown(command: str, answer: str) -> None:
    result = CliRunner().invoke(
        cli, [*shlex.split(command), "--policy", str(POLICY_PATH), "--on", "2026-06-01"]
    )
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == answer


def test_the_page_shows_explain_commands() -> None:
    assert len(_explained()) >= 5
