"""The server's own files: the configuration the local PostgreSQL owns, and what its lock file says."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

from devkit.localpg.config import LocalPgSettings
from devkit.localpg.errors import PgLocalError

SUPERUSER = "postgres"
# sizeof(sockaddr_un.sun_path) on Linux, less the terminating NUL.
MAX_SOCKET_PATH = 107
INCLUDE = "include 'jigsaw.conf'"
INITDB_ARGS = (
    *("-U", SUPERUSER, "-E", "UTF8", "--locale=C"),
    *("--auth-local=peer", "--auth-host=scram-sha-256", "--no-instructions"),
)


def quote(value: str) -> str:
    """A postgresql.conf string literal."""
    return "'" + value.replace("'", "''") + "'"


def config_files(s: LocalPgSettings, port: int, socket_dir: Path, os_user: str) -> dict[str, str]:
    """jigsaw.conf (included from postgresql.conf), pg_hba.conf and pg_ident.conf, rewritten at every `up`."""
    socket = socket_dir / f".s.PGSQL.{port}"
    if len(os.fsencode(socket)) > MAX_SOCKET_PATH:
        raise PgLocalError(
            f"the server's socket path {socket} is longer than {MAX_SOCKET_PATH} bytes: set "
            "JIGSAW_LOCALPG__HOME to a shorter path"
        )
    conf = {
        "listen_addresses": "'127.0.0.1'",
        "port": str(port),
        "unix_socket_directories": quote(str(socket_dir)),
        "unix_socket_permissions": "0700",
        "password_encryption": "'scram-sha-256'",
        "shared_buffers": f"'{s.shared_buffers_mb}MB'",
        "max_connections": str(s.max_connections),
        "logging_collector": "off",
        "log_statement": "'none'",
    }
    return {
        "jigsaw.conf": "".join(f"{k} = {v}\n" for k, v in conf.items()),
        # The bootstrap superuser over the socket, as the account that runs `up`; nothing else locally.
        "pg_hba.conf": f"local all {SUPERUSER} peer map=boot\nhost all all 127.0.0.1/32 scram-sha-256\n",
        "pg_ident.conf": f"boot {os_user} {SUPERUSER}\nboot {SUPERUSER} {SUPERUSER}\n",
    }


def include_ours(data_dir: Path) -> None:
    """postgresql.conf includes jigsaw.conf (once, whenever it was initialised)."""
    main = data_dir / "postgresql.conf"
    if INCLUDE not in main.read_text():
        with main.open("a") as f:
            f.write(
                f"\n# Written by devkit.localpg: the settings it owns, rewritten at every `up`.\n{INCLUDE}\n"
            )


def read_lock(data_dir: Path) -> list[str]:
    """postmaster.pid's lines: pid, data directory, start time, port, socket directory, address, shm."""
    try:
        return (data_dir / "postmaster.pid").read_text().splitlines()
    except OSError:
        return []


def lock_port(lock: list[str]) -> int | None:
    return int(lock[3]) if len(lock) > 3 and lock[3].strip().isdigit() else None


def serves(pid: int, data_dir: Path) -> bool:
    """Is ``pid`` a postmaster started on ``data_dir`` (``postgres -D data_dir``)?"""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    return bool(argv) and Path(argv[0]).name == "postgres" and ("-D", str(data_dir)) in pairwise(argv)


def shm_attached(lock: list[str]) -> int:
    """How many processes are attached to the System V segment the lock file names (0 if unknown)."""
    parts = lock[6].split() if len(lock) > 6 else []
    if len(parts) != 2:
        return 0
    try:
        rows = Path("/proc/sysvipc/shm").read_text().splitlines()[1:]
    except OSError:
        return 0
    for row in rows:
        cols = row.split()
        if len(cols) > 6 and cols[1] == parts[1]:
            return int(cols[6])
    return 0
