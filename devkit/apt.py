"""Debian packages the local servers and tools come from: found on PATH, or installed with apt (as root).

Jigsaw is developed and tested on Debian bookworm, and CI starts from a clean machine: a test or a
command that needs ``promtool`` or ``buildah`` installs the package that brings it, once, rather than skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from jigsaw.errors import JigsawError

INSTALL_TIMEOUT_S = 600.0


class AptError(JigsawError):
    """A Debian package could not be installed."""


def install(package: str, progress: Callable[[str], None], timeout_s: float = INSTALL_TIMEOUT_S) -> None:
    """``apt-get update`` and ``apt-get install -y package``, non-interactively; an ``AptError`` with apt's
    output if either fails."""
    progress(f"installing Debian's {package} with apt (first run only)…")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for cmd in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", package]):
        try:
            result = subprocess.run(  # noqa: S603 - fixed argv, no shell
                cmd, capture_output=True, text=True, check=False, env=env, timeout=timeout_s
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise AptError(
                f"`{' '.join(cmd)}` failed ({exc}): run `apt-get install {package}` by hand"
            ) from exc
        if result.returncode != 0:
            raise AptError(
                f"`{' '.join(cmd)}` failed (exit {result.returncode}):\n"
                f"{(result.stdout + result.stderr)[-2000:]}"
            )


def require(package: str, binary: str, progress: Callable[[str], None] = lambda _: None) -> Path:
    """The path of ``binary``, installing ``package`` first when it is not on PATH."""
    found = shutil.which(binary)
    if found is None:
        install(package, progress)
        found = shutil.which(binary)
    if found is None:
        raise AptError(f"{package} is installed but {binary} is not on PATH")
    return Path(found)
