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
from apps.cli.report import report
from apps.cli.schemas import schemas
from apps.cli.synth import synth
from jigsaw import logs
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
@click.option(
    "--log-format",
    type=click.Choice(logs.FORMATS),
    default="text",
    show_default=True,
    envvar="JIGSAW_LOG_FORMAT",
    show_envvar=True,
    help="text for people; json, one object a line, for a log shipper.",
)
def cli(verbose: bool, log_format: logs.Format) -> None:
    """Jigsaw: secure multi-agency safeguarding information sharing over Apache Kafka."""
    logs.configure(log_format, logging.DEBUG if verbose else logging.INFO)


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
cli.add_command(report)
cli.add_command(connector)
cli.add_command(synth)


def main(argv: list[str] | None = None) -> None:
    cli(args=argv)
