"""Debian's PostgreSQL server binaries: found under /usr/lib/postgresql, or installed with apt (as root)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from devkit import apt
from devkit.localpg.errors import PgLocalError

PG_ROOT = Path("/usr/lib/postgresql")
INSTALL_HINT = "apt-get install postgresql (Debian's package; only its binaries are used)"
TOOLS = ("initdb", "pg_ctl", "postgres")


def installed_versions() -> list[str]:
    """The major versions installed, newest first."""
    try:
        names = [p.name for p in PG_ROOT.iterdir() if p.name.isdigit()]
    except OSError:
        return []
    return sorted(names, key=int, reverse=True)


def find_bindir(version: str | None) -> Path | None:
    """``version``'s bin directory (else the newest installed one's) when it has every tool."""
    for v in [version] if version else installed_versions():
        bindir = PG_ROOT / v / "bin"
        if all((bindir / tool).exists() for tool in TOOLS):
            return bindir
    return None


def install(package: str, timeout_s: float, progress: Callable[[str], None]) -> None:
    """``apt-get install package``; a ``PgLocalError`` with apt's output if it fails.

    Debian's postinst also creates (and, where services run, starts) its own ``main`` cluster on port 5432;
    the local PostgreSQL never uses it.
    """
    progress("PostgreSQL is not installed (first run only)")
    try:
        apt.install(package, progress, timeout_s)
    except apt.AptError as exc:
        raise PgLocalError(f"{exc}\nrun `{INSTALL_HINT}` by hand") from exc
