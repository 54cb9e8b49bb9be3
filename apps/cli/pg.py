"""``jigsaw pg up | down | status | logs | url``: a private PostgreSQL on loopback for dev and tests."""

from __future__ import annotations

import json

import click

from devkit.localpg import LocalPostgres, redact_url


def _quiet() -> LocalPostgres:
    return LocalPostgres(progress=lambda _: None)


@click.group()
def pg() -> None:
    """Run a real PostgreSQL on loopback: Debian's binaries (installed with apt when missing, as root) on a
    private cluster under .jigsaw/pg, with a `jigsaw` role and database reached over TCP with SCRAM."""


@pg.command()
def up() -> None:
    """Start the local PostgreSQL (or find it running) and wait until the jigsaw role signs in.

    The first run initialises the cluster and generates the role's password, kept 0600 in
    .jigsaw/pg/jigsaw.pg.json; `jigsaw pg url` prints the connection URL with it.
    """
    lp = LocalPostgres()
    status = lp.up()
    click.echo(f"pid: {status.pid}")
    click.echo(f"address: {status.address} (database jigsaw, role jigsaw, SCRAM-SHA-256)")
    click.echo(f"log: {status.log}")
    click.echo(f"url: {redact_url(lp.url())} (`jigsaw pg url` prints it with the password)")


@pg.command()
@click.option("--purge", is_flag=True, help="Also delete the cluster's data, logs and credentials.")
def down(purge: bool) -> None:
    """Stop the local PostgreSQL (a fast shutdown: sessions end, committed data is kept)."""
    lp = LocalPostgres()
    if purge:
        lp.purge()
        click.echo(f"deleted {lp.home}")
    else:
        lp.down()


@pg.command()
@click.option("--json", "as_json", is_flag=True, help="Print machine-readable status.")
def status(as_json: bool) -> None:
    """Is the local PostgreSQL running and answering? Exit status 0 only if it is both."""
    st = _quiet().status()
    if as_json:
        click.echo(json.dumps(st.as_dict()))
    elif not st.running:
        click.echo("not running")
    else:
        word = "answering" if st.answering else "NOT answering"
        click.echo(f"running: pid {st.pid}, {st.address}, {word}, PostgreSQL {st.version}")
    raise SystemExit(0 if st.running and st.answering else 3)


@pg.command()
@click.option("-n", "--lines", default=50, show_default=True)
def logs(lines: int) -> None:
    """Print the end of the server's log."""
    click.echo(_quiet().tail(lines))


@pg.command()
def url() -> None:
    """Print the jigsaw role's connection URL, for scripts and tests: `psql "$(jigsaw pg url)"`.

    It carries the role's password: do not paste it into logs, tickets or shell history.
    """
    click.echo(_quiet().url())
