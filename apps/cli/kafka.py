"""``jigsaw kafka up | down | status | logs``: the local single-node broker."""

from __future__ import annotations

import json

import click

from devkit.localkafka import LocalKafka


@click.group()
def kafka() -> None:
    """Run a real Apache Kafka on loopback (jars fetched by Maven, KRaft, one node)."""


@kafka.command()
def up() -> None:
    """Start the local Kafka (or find it running) and wait until it answers."""
    status = LocalKafka().up()
    click.echo(f"bootstrap: {status.bootstrap}")


@kafka.command()
@click.option("--purge", is_flag=True, help="Also delete the broker's data and logs.")
def down(purge: bool) -> None:
    """Stop exactly the broker that `up` started."""
    lk = LocalKafka()
    if purge:
        lk.purge()
    else:
        lk.down()


@kafka.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable status.")
def status(as_json: bool) -> None:
    """Is the local Kafka running and answering? Exit status 0 only if it is."""
    st = LocalKafka(progress=lambda _: None).status()
    if as_json:
        click.echo(json.dumps(st.as_dict()))
    elif st.running:
        word = "answering" if st.answering else "NOT answering"
        click.echo(f"running: pid {st.pid}, {st.bootstrap}, {word}")
    else:
        click.echo("not running")
    raise SystemExit(0 if st.running and st.answering else 3)


@kafka.command()
@click.option("-n", "--lines", default=50, show_default=True)
def logs(lines: int) -> None:
    """Print the end of the broker's log."""
    click.echo(LocalKafka(progress=lambda _: None).tail(lines))
