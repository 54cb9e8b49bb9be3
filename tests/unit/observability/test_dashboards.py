"""The dashboards in deploy/grafana/: each loads through Grafana's generated models, every query parses as
PromQL, on the ${datasource} variable, and names only metrics the services expose or the rules record."""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import pytest
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models import prometheus
from grafana_foundation_sdk.models.dashboard import Dashboard, Panel, RowPanel

from tests.unit.observability.registries import REPO, known, recorded, selected

BOARDS = sorted((REPO / "deploy" / "grafana").glob("*.json"))
EXPECTED = {"jigsaw-overview.json", "jigsaw-broker.json", "jigsaw-hub.json", "jigsaw-connector.json"}
DATASOURCE_UID = "${datasource}"
# What Grafana puts in place of its variables before the query reaches Prometheus.
GRAFANA_VARIABLES = {"__rate_interval": "5m", "__interval": "1m", "__range": "1h", "__range_s": "3600"}

register_default_plugins()


def _load(path: Path) -> Dashboard:
    return Dashboard.from_json(json.loads(path.read_text(encoding="utf-8")))


def _panels(board: Dashboard) -> list[Panel]:
    out: list[Panel] = []
    for panel in board.panels or []:
        if isinstance(panel, RowPanel):
            out.extend(p for p in panel.panels if isinstance(p, Panel))
        else:
            out.append(panel)
    return out


def _substitute(expr: str, variables: set[str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name in GRAFANA_VARIABLES:
            return GRAFANA_VARIABLES[name]
        assert name in variables, f"${name} is not a variable of the dashboard"
        return "x"

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", value, expr)


def _variables(board: Dashboard) -> set[str]:
    return {v.name for v in board.templating.list_val or []}


def test_every_dashboard_is_committed() -> None:
    assert {p.name for p in BOARDS} == EXPECTED


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_the_dashboard_loads_with_a_datasource_variable(path: Path) -> None:
    board = _load(path)
    assert board.title
    assert board.uid
    assert board.schema_version >= 39
    datasource = [v for v in board.templating.list_val or [] if v.name == "datasource"]
    assert datasource
    assert datasource[0].type_val == "datasource"
    assert datasource[0].query == "prometheus"
    assert _panels(board)


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_panel_has_a_title_a_description_and_the_datasource_variable(path: Path) -> None:
    for panel in _panels(_load(path)):
        assert panel.title, f"panel {panel.id_val} needs a title"
        assert panel.description, f"{panel.title} needs a description"
        assert panel.datasource is not None, panel.title
        assert panel.datasource.uid == DATASOURCE_UID, panel.title
        assert panel.targets, f"{panel.title} has no query"
        for target in panel.targets:
            assert isinstance(target, prometheus.Dataquery), f"{panel.title}: not a Prometheus query"
            assert isinstance(target.datasource, dict), f"{panel.title}: a query without a datasource"
            assert target.datasource.get("uid") == DATASOURCE_UID, panel.title


def _exprs(board: Dashboard) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel query and every query variable, variables substituted."""
    names = _variables(board)
    out = []
    for panel in _panels(board):
        for target in panel.targets or []:
            assert isinstance(target, prometheus.Dataquery)
            out.append((str(panel.title), _substitute(target.expr, names)))
    for var in board.templating.list_val or []:
        query = var.query if isinstance(var.query, str) else (var.query or {}).get("query", "")
        # label_values(selector, label): the selector is PromQL.
        match = re.fullmatch(r"label_values\((.+),\s*\w+\)", str(query))
        if var.type_val == "query":
            assert match, f"variable {var.name}: expected label_values(selector, label), got {query!r}"
            out.append((f"${var.name}", _substitute(match.group(1), names)))
    return out


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_query_parses_and_names_only_exposed_or_recorded_metrics(path: Path) -> None:
    available = known()
    missing = {}
    for where, expr in _exprs(_load(path)):
        try:
            names = selected(expr)
        except ValueError as exc:
            pytest.fail(f"{where}: {expr!r} does not parse: {exc}")
        if names - available:
            missing[where] = sorted(names - available)
    assert not missing, f"metrics in no service's registry nor recorded: {missing}"


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_recorded_name_a_panel_uses_is_in_the_rules(path: Path) -> None:
    used = {n for _, expr in _exprs(_load(path)) for n in selected(expr) if ":" in n}
    assert used <= recorded(), sorted(used - recorded())


def test_the_overview_shows_the_measures_a_mash_is_judged_by() -> None:
    board = _load(REPO / "deploy" / "grafana" / "jigsaw-overview.json")
    text = " ".join(f"{p.title} {p.description}" for p in _panels(board))
    for phrase in ("one working day", "48%", "24%", "Re-referral", "on time", "p90"):
        assert phrase in text, phrase
    assert promql_parser.parse("up")  # the parser is the one pinned, and answers
