"""``jigsaw synth``: generate a synthetic town's agency systems, and serve its health API."""

from __future__ import annotations

import asyncio
import os
from datetime import date, datetime
from pathlib import Path

import click


@click.group()
def synth() -> None:
    """Synthetic agency systems for the demo and the tests."""


@synth.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option("--households", type=click.IntRange(min=0), default=1000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="The date the records run up to [default: today]. The same seed, size and date give the same files.",
)
def generate(out: Path, households: int, seed: int, today: datetime | None) -> None:
    """Generate a town: each agency's system in its own format, the ground truth and a manifest."""
    from town import generate as make_town
    from town.deployment import AGENCIES

    day = today.date() if today is not None else date.today()
    with click.progressbar(length=households, label="households", show_pos=True) as bar:
        written = 0

        def step(done: int, _total: int) -> None:
            nonlocal written
            bar.update(done - written)
            written = done

        summary = make_town(out, households, seed, day, progress=step)
    click.echo(
        f"{summary.households} households (+{summary.scenario_households} scenario), "
        f"{summary.people} people, "
        f"{summary.bytes / 1e6:.1f} MB in {summary.seconds:.1f}s in {out}"
    )
    click.echo(f"{'agency':<14}{'people':>10}{'records':>10}")
    for agency in AGENCIES:
        items = sum(n for key, n in summary.records[agency].items() if key != "contact")
        click.echo(f"{agency:<14}{summary.agency_people[agency]:>10}{items:>10}")


@synth.command("health-api")
@click.option("--data", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=8790, show_default=True)
@click.option(
    "--token-env",
    default="JIGSAW_SYNTH_HEALTH_TOKEN",
    show_default=True,
    help="Environment variable holding a bearer token to require (unset: none required).",
)
def health_api(data: Path, host: str, port: int, token_env: str) -> None:
    """Serve the generated health system's API until SIGTERM or Ctrl-C. Logs no personal data."""
    from jigsaw.lifecycle import install_stop_signals, until_stopped
    from jigsaw.serving import serve
    from town.health_api import create_app

    try:
        app = create_app(data, os.environ.get(token_env) or None)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None

    async def main() -> None:
        # Our own stop signal, not uvicorn's: uvicorn re-raises SIGTERM after its shutdown, so a clean
        # stop would look like a kill to whoever supervises the process.
        stop = asyncio.Event()
        install_stop_signals(stop)
        async with serve(app, host, port, name="health-api") as served:
            click.echo(f"health API for {data} on http://{host}:{port}")
            await until_stopped(stop, served.task)

    asyncio.run(main())
