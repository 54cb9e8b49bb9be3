"""``jigsaw hub run | rebuild`` and ``jigsaw case show``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import click

from apps.cli.common import kafka_for
from jigsaw.lifecycle import install_stop_signals
from jigsaw.roster import load_roster
from jigsaw.wire.framing import now_micros


def _settings(subscriber: str, bootstrap: str | None, **update: Any):  # type: ignore[no-untyped-def]
    from services.hub.config import HubSettings

    s = HubSettings()
    participant = s.hub_participant
    if "hub_participant" not in s.model_fields_set:  # the subscriber's own hub, as the roster names it
        participant = load_roster(s.policy).hub_for(subscriber)
    kafka = kafka_for(s.kafka, bootstrap, participant)
    return s.model_copy(
        update={"subscriber": subscriber, "kafka": kafka, "hub_participant": participant, **update}
    )


@click.group()
def hub() -> None:
    """Case assembly for one subscriber, and the API for hub systems."""


@hub.command()
@click.option("--subscriber", required=True, help="Whose releases to assemble, e.g. csc-mash.")
@click.option("--port", type=int, default=None, help="API port (default JIGSAW_HUB__API_PORT or 8080).")
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
def run(subscriber: str, port: int | None, bootstrap: str | None) -> None:
    """Consume SUBSCRIBER's releases into its case store and serve the API until SIGTERM."""
    from services.hub.app import run as run_hub

    settings = _settings(subscriber, bootstrap, **({"api_port": port} if port is not None else {}))

    async def main() -> None:
        stop = asyncio.Event()
        install_stop_signals(stop)
        await run_hub(settings, stop)

    asyncio.run(main())


@hub.command()
@click.option("--subscriber", required=True)
@click.option(
    "--into",
    type=click.Path(path_type=Path),
    default=None,
    help="Build here (default: replace the live store; stop the hub first).",
)
@click.option("--bootstrap", default=None, help="Kafka bootstrap (default: the local Kafka).")
def rebuild(subscriber: str, into: Path | None, bootstrap: str | None) -> None:
    """Replay SUBSCRIBER's inputs from the start of each topic into a fresh case store."""
    import time

    from services.hub.app import rebuild as rebuild_hub

    settings = _settings(subscriber, bootstrap)
    target = into or settings.store_path().with_suffix(".rebuilding")
    for stale in (target, Path(f"{target}-wal"), Path(f"{target}-shm")):
        stale.unlink(missing_ok=True)
    started = time.perf_counter()
    applied = asyncio.run(rebuild_hub(settings, target))
    elapsed = time.perf_counter() - started
    if into is None:
        live = settings.store_path()
        for stale in (Path(f"{live}-wal"), Path(f"{live}-shm")):
            stale.unlink(missing_ok=True)  # a stale WAL must not be replayed onto the rebuilt file
        target.replace(live)
    click.echo(
        f"rebuilt {subscriber}: {applied} records in {elapsed:.1f}s "
        f"({applied / elapsed if elapsed else 0:.0f}/s) into {into or settings.store_path()}"
    )


@click.group()
def case() -> None:
    """Read case views from a hub's store."""


@case.command()
@click.argument("referral")
@click.option("--subscriber", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON.")
def show(referral: str, subscriber: str, as_json: bool) -> None:
    """Render REFERRAL as SUBSCRIBER sees it."""
    from services.hub.view import render

    path = _settings(subscriber, "unused:0").store_path()
    if not path.exists():
        raise click.ClickException(
            f"no case store at {path}: is `jigsaw hub run --subscriber {subscriber}` running?"
        )
    with sqlite3.connect(path) as conn:
        view = render(conn, referral, now_micros())
    if view is None:
        raise click.ClickException(f"{subscriber} has no case {referral}")
    click.echo(json.dumps(view, indent=2) if as_json else format_case(view))


def format_case(v: dict[str, Any]) -> str:
    out = [
        f"{v['referral_id']}  RAG {v['rag'] or '-'}  outcome {v['outcome'] or '-'}  updated {v['updated_at']}"
    ]
    out.append(f"concerns: {', '.join(v['concerns']) or '-'}")
    for s in v["subjects"]:
        found = (
            ", ".join(f"{m['agency']} {m['method']} {m['confidence']}" for m in s["matches"]) or "no matches"
        )
        out.append(f"  subject {s['subject_ref']} ({s['role'] or '?'}): {found}")
    out.append("contributions:")
    for agency, items in sorted(v["contributions"].items()):
        out.append(f"  {agency}: " + ", ".join(f"{i['category']}[{i['subject_ref'] or '-'}]" for i in items))
    if v["withheld"]:
        out.append("withheld:")
        out += [
            f"  {w['agency']} {w['category']}[{w['subject_ref'] or '-'}] {w['rule_id']}: {w['reason']}"
            for w in v["withheld"]
        ]
    out.append("enquiries:")
    for e in v["enquiries"]:
        state = "BREACHED" if e["breached"] else ("outstanding" if e["outstanding"] else "answered")
        out.append(f"  {e['agency']:<12} due {e['deadline'][:16]}  {state}")
    out.append("flags: " + (", ".join(f["flag"] for f in v["flags"]) or "none"))
    c = v["completeness"]
    out.append(
        f"completeness: {c['enquiries_answered']}/{c['enquiries_total']} enquiries answered, "
        f"{c['sections_released']} sections released, {c['sections_withheld']} withheld"
    )
    if v["decision"]:
        out.append(f"decision: {v['decision']['outcome']} - {v['decision']['reason']}")
    return "\n".join(out)
