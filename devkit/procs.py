"""Process and port checks shared by the local servers the project starts (Kafka, PostgreSQL)."""

from __future__ import annotations

import contextlib
import os
import socket
from pathlib import Path


def port_free(port: int) -> bool:
    """Can a server bind ``port`` on 127.0.0.1 now? As the servers bind, with SO_REUSEADDR: sockets of a
    killed server left in TIME_WAIT must not make its port look taken."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def state(pid: int) -> str | None:
    """The process's state letter in /proc (R, S, T for stopped, Z for zombie...), or None if unknown."""
    with contextlib.suppress(OSError, IndexError):
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    return None


def zombie(pid: int) -> bool:
    """Exited but not yet reaped: ``kill(pid, 0)`` (and PostgreSQL's own lock check) still sees it."""
    return state(pid) == "Z"


def paused(pid: int) -> bool:
    """Stopped by SIGSTOP."""
    return state(pid) == "T"


def alive(pid: int) -> bool:
    """Is ``pid`` running? A zombie is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not zombie(pid)
