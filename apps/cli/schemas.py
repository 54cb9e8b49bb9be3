"""``jigsaw schemas check``: are the versioned Avro schemas FULL_TRANSITIVE compatible?"""

from __future__ import annotations

from pathlib import Path

import click

from jigsaw.wire.codec import default_schemas_dir
from jigsaw.wire.compat import check_family, load_families


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


@click.group()
def schemas() -> None:
    """The versioned Avro schemas in ``schemas/``."""


@schemas.command()
@click.option(
    "--dir",
    "root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=default_schemas_dir,
    show_default="the repository's schemas/",
    help="Folder holding <group>/<Name>.v<N>.avsc files.",
)
def check(root: Path) -> None:
    """Check every version against every earlier one, both ways. Exit status 0 only if all pass."""
    families = load_families(root)
    failures = 0
    for family in families:
        found = check_family(family)
        verdict = (
            "FULL_TRANSITIVE ok" if not found else _count(len(found), "incompatibility", "incompatibilities")
        )
        click.echo(f"{family.fullname}: {_count(len(family.files), 'version', 'versions')}, {verdict}")
        for problem in found:
            click.echo(f"  {problem}")
        failures += len(found)
    if failures:
        click.echo(
            f"FAILED: {_count(failures, 'incompatibility', 'incompatibilities')} in {len(families)} schemas"
        )
        raise SystemExit(1)
    click.echo(f"ok: {len(families)} schemas, FULL_TRANSITIVE compatible")
