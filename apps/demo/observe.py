"""What the demo's Prometheus saw: the questions people ask of a running Jigsaw, and their answers.

The queries are the ones the dashboards and the alert rules are built on; printing their answers at the end
of a run shows that every service was scraped and that each question has data behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.table import Table

from devkit.localprom import LocalPrometheus, PromLocalError


@dataclass(frozen=True)
class Question:
    what: str
    expr: str
    unit: str = ""


QUESTIONS = (
    Question("services scraped and up", 'sum(up{job=~"jigsaw-.*"})'),
    Question("services ready", "sum(jigsaw_ready)"),
    Question("records consumed", "sum(jigsaw_records_consumed_total)"),
    Question("section decisions", "sum(jigsaw_broker_decisions_total)"),
    Question("of which withheld", 'sum(jigsaw_broker_decisions_total{outcome!="RELEASE"})'),
    Question("case-view updates", "sum(jigsaw_hub_end_to_end_seconds_count)"),
    Question(
        "e2e latency p95",
        "histogram_quantile(0.95, sum by (le) (jigsaw_hub_end_to_end_seconds_bucket))",
        "s",
    ),
    Question("consumer lag (records, all partitions)", "sum(jigsaw_consumer_lag)"),
    Question("outbox rows waiting", "sum(jigsaw_outbox_depth)"),
    Question("dead letters", "sum(jigsaw_dead_letters_total) or vector(0)"),
    Question("outcomes recorded", "sum(jigsaw_hub_outcomes_total)"),
    Question("enquiries breached", "sum(jigsaw_hub_breached_enquiries)"),
    Question("soonest key expiry", "min(jigsaw_key_expiry_days)", "days"),
)


def answers(prom: LocalPrometheus, at: float | None = None) -> dict[str, float | None]:
    found: dict[str, float | None] = {}
    for q in QUESTIONS:
        try:
            found[q.what] = prom.value(q.expr, at)
        except PromLocalError:
            found[q.what] = None
    return found


def firing(prom: LocalPrometheus, at: float | None = None) -> list[str]:
    """The alerts firing, by name and severity."""
    try:
        found = prom.query('ALERTS{alertstate="firing"}', at)
    except PromLocalError:
        return []
    return sorted({f"{a['metric']['alertname']} ({a['metric'].get('severity', '?')})" for a in found})


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "[dim]no data[/]"
    number = f"{value:,.0f}" if value == int(value) else f"{value:,.3g}"
    return f"{number} {unit}".strip()


def table(prom: LocalPrometheus, found: dict[str, float | None], wide: bool = True) -> Table:
    """The answers; ``wide`` adds each question's query."""
    t = Table(title=f"What Prometheus saw ({prom.url})", title_justify="left")
    t.add_column("question")
    t.add_column("answer", justify="right")
    if wide:
        t.add_column("query")
    for q in QUESTIONS:
        cells = [q.what, _shown(found.get(q.what), q.unit)]
        t.add_row(*cells, *([f"[dim]{q.expr}[/]"] if wide else []))
    return t
