"""``jigsaw hub run | rebuild`` and ``jigsaw case show``."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from apps.cli.casestore import case_store, store_options
from apps.cli.common import kafka_for
from jigsaw import logs
from jigsaw.lifecycle import install_stop_signals
from jigsaw.roster import load_roster
from jigsaw.wire.framing import now_micros

if TYPE_CHECKING:
    pass


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
    logs.bind(f"hub-{subscriber}", settings.hub_participant)

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
@store_options
@click.option("--json", "as_json", is_flag=True, help="Print the view as JSON (UTF-8).")
def show(referral: str, subscriber: str, state_dir: Path | None, store: Path | None, as_json: bool) -> None:
    """Render REFERRAL as SUBSCRIBER sees it, from its hub's case store, names included.

    The store is --store, else hub-SUBSCRIBER.sqlite under --state-dir, else the hub's own settings: the
    shared PostgreSQL store when JIGSAW_HUB__STORE__URL is set, or the SQLite file under
    JIGSAW_HUB__STATE_DIR (default .jigsaw/state)."""
    from services.hub.view import render

    with case_store(subscriber, state_dir, store) as opened:
        view = render(opened.conn, referral, now_micros())
    if view is None:
        raise click.ClickException(f"{subscriber} has no case {referral} in {opened.where}")
    # The subscriber's own desk tool on its own store: the names it may see are printed as written.
    click.echo(json.dumps(view, indent=2, ensure_ascii=False) if as_json else format_case(view))


def _names(v: dict[str, Any]) -> dict[str, list[str]]:
    """Each subject's names, as the identity sections released to this subscriber give them."""
    out: dict[str, list[str]] = {}
    for items in v["contributions"].values():
        for item in items:
            if item["category"] != "identity" or not item["subject_ref"]:
                continue
            for n in (item["payload"] or {}).get("names") or []:
                name = " ".join(part for part in (n.get("given_names"), n.get("family_name")) if part)
                known = out.setdefault(item["subject_ref"], [])
                if name and name not in known:
                    known.append(name)
    return out


def format_case(v: dict[str, Any]) -> str:
    out = [
        f"{v['referral_id']}  RAG {v['rag'] or '-'}  outcome {v['outcome'] or '-'}  updated {v['updated_at']}"
    ]
    out.append(f"concerns: {', '.join(v['concerns']) or '-'}")
    names = _names(v)
    for s in v["subjects"]:
        found = (
            ", ".join(f"{m['agency']} {m['method']} {m['confidence']}" for m in s["matches"]) or "no matches"
        )
        known = " / ".join(names.get(s["subject_ref"], [])) or "no name released"
        out.append(f"  subject {s['subject_ref']} ({s['role'] or '?'}) {known}: {found}")
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
