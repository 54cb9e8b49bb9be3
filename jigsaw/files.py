"""Files that hold personal data or keys: readable by the service's own user only.

A hub's store holds decrypted case data and a keystore holds private keys, so neither may be readable by
another account on the machine: files are created 0600 in directories made (or tightened to) 0700.
SQLite creates a database's -wal and -shm files with the database file's own mode, so creating the
database file first, 0600, covers its journal too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: Path) -> Path:
    """``path`` and any missing parents made 0700; an existing ``path`` we own is tightened to 0700.

    A sticky directory (``/tmp``) is shared by design and left as it is: the files in it are still 0600.
    """
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    st = path.stat()
    if st.st_uid == os.getuid() and not st.st_mode & stat.S_ISVTX and stat.S_IMODE(st.st_mode) != DIR_MODE:
        path.chmod(DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` created empty 0600 if missing (in a private directory), or tightened to 0600 if it exists."""
    private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with ``data``, never readable by others, not even for a moment."""
    private_dir(path.parent)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
