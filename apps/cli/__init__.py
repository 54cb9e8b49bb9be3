"""The ``jigsaw`` command line: one tool, a subcommand group per service."""

from __future__ import annotations

import logging
import sys

import click

from apps.cli.broker import audit, broker, policy
from apps.cli.connector import connector
from apps.cli.demo import demo
from apps.cli.hub import case, hub
from apps.cli.kafka import kafka
from apps.cli.keys import keys
from apps.cli.pg import pg
from apps.cli.schemas import schemas
from apps.cli.synth import synth
from jigsaw.errors import JigsawError


class _Group(click.Group):
    """Turns a ``JigsawError`` into one clear line on stderr and exit status 1, not a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except JigsawError as exc:
            click.secho(f"error: {exc}", fg="red", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log at DEBUG level.")
def cli(verbose: bool) -> None:
    """Jigsaw: secure multi-agency safeguarding information sharing over Apache Kafka."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    # httpx logs every request's URL at INFO, and a query string can hold a name or a date of birth.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # kafka-python (the ACL and SCRAM admin calls) narrates every connection at INFO.
    logging.getLogger("kafka").setLevel(logging.WARNING)


cli.add_command(kafka)
cli.add_command(pg)
cli.add_command(demo)
cli.add_command(keys)
cli.add_command(schemas)
cli.add_command(broker)
cli.add_command(policy)
cli.add_command(audit)
cli.add_command(hub)
cli.add_command(case)
cli.add_command(connector)
cli.add_command(synth)


def main(argv: list[str] | None = None) -> None:
    cli(args=argv)
