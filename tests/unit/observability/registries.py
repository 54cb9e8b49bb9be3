"""The sample names the services expose, and the names the recording rules record, for the rule and
dashboard tests to check expressions against.

Each service's metrics classes go into a fresh registry. A labelled metric shows no samples until a child
exists, so the sample names come from each family's name and type, not from its samples.
"""

from __future__ import annotations

from pathlib import Path

import promql_parser
import yaml
from prometheus_client import CollectorRegistry

from connectors.sdk.metrics import ConnectorMetrics
from jigsaw.metrics import KernelMetrics
from services.broker.metrics import BrokerMetrics
from services.hub.metrics import HubMetrics

REPO = Path(__file__).resolve().parents[3]
RULES = sorted((REPO / "deploy" / "prometheus" / "rules").glob("*.yml"))
# Prometheus's own series for every target.
BUILTIN = frozenset({"up"})

_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def _names(registry: CollectorRegistry) -> set[str]:
    out: set[str] = set()
    for family in registry.collect():
        out.update(family.name + suffix for suffix in _SUFFIXES.get(family.type, ("",)))
    return out


def service_registries() -> dict[str, set[str]]:
    """Each service's sample names: its kernel's and its own."""
    out = {}
    for service, own in (
        ("broker", BrokerMetrics),
        ("hub", lambda reg: HubMetrics(reg, "csc-mash")),
        ("connector", ConnectorMetrics),
    ):
        registry = CollectorRegistry()
        KernelMetrics(registry, service)
        own(registry)
        out[service] = _names(registry)
    return out


def rules() -> list[dict[str, object]]:
    """Every rule of every rules file."""
    return [
        rule
        for path in RULES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
    ]


def recorded() -> set[str]:
    return {str(rule["record"]) for rule in rules() if "record" in rule}


def known() -> set[str]:
    """Every name an expression may select: the services' samples, the recorded series and ``up``."""
    return set().union(*service_registries().values(), recorded(), BUILTIN)


def selected(expr: str) -> set[str]:
    """The metric names ``expr``'s selectors name (by name or by an exact ``__name__`` matcher)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(node.name)
            for m in node.matchers.matchers:
                if m.name == "__name__" and m.op == promql_parser.MatchOp.Equal:
                    names.add(m.value)

    promql_parser.walk(promql_parser.parse(expr), visit)
    return names
