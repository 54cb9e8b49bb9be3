"""``python -m devkit.image`` (``make image``): the one ``jigsaw`` container image, built with buildah.

No container registry is reachable from where Jigsaw is built, so the base is made from Debian packages:
``debootstrap`` a minimal bookworm with Python, commit it as a local image once (``BASE``, reused while its
recipe is unchanged), then build ``deploy/container/Containerfile`` on it as ``IMAGE``. The Kubernetes
manifests (``deploy/kubernetes/jigsaw/``) run ``IMAGE``, and the build ends by running ``jigsaw --help`` and
``jigsaw schemas check`` inside it as the image's own user.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from devkit.apt import require
from jigsaw.errors import JigsawError

REPO = Path(__file__).resolve().parents[1]
CONTAINERFILE = REPO / "deploy" / "container" / "Containerfile"
IGNOREFILE = REPO / "deploy" / "container" / "containerignore"
VERSION: str = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]
IMAGE = f"localhost/jigsaw:{VERSION}"
BASE = "localhost/jigsaw-base:bookworm"
SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
# ca-certificates for HTTPS agency sources; passwd (in minbase) for the image's user.
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
USER = "10001:10001"
RECIPE_LABEL = "org.jigsaw.base-recipe"
# The buildah containers this module makes carry this prefix, so a failed run's leftovers are its own.
WORKING_PREFIX = "jigsaw-image-"


class ImageError(JigsawError):
    """The image could not be built or failed its smoke test."""


@dataclass(frozen=True)
class Buildah:
    """How buildah is invoked here: the storage driver every call shares, and the RUN isolation."""

    binary: str = "buildah"
    storage_driver: str | None = None
    isolation: str = "chroot"

    def cmd(self, *args: str) -> list[str]:
        driver = ["--storage-driver", self.storage_driver] if self.storage_driver else []
        return [self.binary, *driver, *args]


def base_recipe(suite: str = SUITE, mirror: str = MIRROR, packages: Sequence[str] = BASE_PACKAGES) -> str:
    """A digest of what goes into the base, so a changed package list builds a new one."""
    return hashlib.sha256("\n".join([suite, mirror, *sorted(packages)]).encode()).hexdigest()[:16]


def debootstrap_cmd(rootfs: Path, suite: str = SUITE, mirror: str = MIRROR) -> list[str]:
    return [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(BASE_PACKAGES)}",
        suite,
        str(rootfs),
        mirror,
    ]


def bud_cmd(b: Buildah, pip_ca: Path | None, repo: Path = REPO) -> list[str]:
    """``buildah bud`` of the Containerfile on the base, with layer caching; the proxy CA only as a secret."""
    secret = ["--secret", f"id=pip-ca,src={pip_ca}"] if pip_ca is not None else []
    return b.cmd(
        "bud",
        "--layers",
        "--isolation",
        b.isolation,
        "--build-arg",
        f"BASE={BASE}",
        "--ignorefile",
        str(IGNOREFILE),
        *secret,
        "-f",
        str(CONTAINERFILE),
        "-t",
        IMAGE,
        str(repo),
    )


def smoke_cmds(b: Buildah, container: str) -> list[list[str]]:
    run = b.cmd("run", "--isolation", b.isolation, "--user", USER, container, "--")
    return [[*run, "jigsaw", "--help"], [*run, "jigsaw", "schemas", "check"]]


def choose_isolation(runtimes: Sequence[str], in_container: bool) -> str:
    """``oci`` needs runc or crun and a host that lets it make namespaces; ``chroot`` works in a container."""
    return "oci" if runtimes and not in_container else "chroot"


def pip_ca(environ: dict[str, str]) -> Path | None:
    """The CA bundle pip is told to trust here (a TLS-intercepting proxy's), to lend the build."""
    found = environ.get("PIP_CERT") or environ.get("REQUESTS_CA_BUNDLE")
    return Path(found) if found and Path(found).is_file() else None


def _run(cmd: list[str], what: str, timeout_s: float = 1800.0) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - argv built here, no shell
            cmd, capture_output=True, text=True, check=False, timeout=timeout_s
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ImageError(f"{what}: `{' '.join(cmd)}` failed: {exc}") from exc
    if done.returncode != 0:
        raise ImageError(
            f"{what}: `{' '.join(cmd)}` exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
        )
    return done.stdout


def _in_container() -> bool:
    return any(Path(p).exists() for p in ("/.dockerenv", "/run/.containerenv")) or (
        Path("/proc/1/comm").exists() and Path("/proc/1/comm").read_text().strip() != "systemd"
    )


def detect(binary: Path) -> Buildah:
    """Overlay where a scratch container mounts with it (inside some containers it cannot), else vfs."""
    runtimes = [r for r in ("runc", "crun") if shutil.which(r)]
    isolation = choose_isolation(runtimes, _in_container())
    for driver in ("overlay", "vfs"):
        b = Buildah(str(binary), driver, isolation)
        try:
            ctr = _run(b.cmd("from", "--name", f"{WORKING_PREFIX}probe-{os.getpid()}", "scratch"), "probe")
        except ImageError:
            continue
        try:
            _run(b.cmd("mount", ctr.strip()), "probe")
            return b
        except ImageError:
            continue
        finally:
            subprocess.run(b.cmd("rm", ctr.strip()), capture_output=True, check=False)  # noqa: S603
    raise ImageError("buildah can use neither the overlay nor the vfs storage driver here")


def _base_is_current(b: Buildah) -> bool:
    inspect = b.cmd(
        "inspect", "--type", "image", "--format", f'{{{{index .OCIv1.Config.Labels "{RECIPE_LABEL}"}}}}'
    )
    done = subprocess.run([*inspect, BASE], capture_output=True, text=True, check=False)  # noqa: S603
    return done.returncode == 0 and done.stdout.strip() == base_recipe()


def build_base(b: Buildah, progress: Callable[[str], None]) -> None:
    """debootstrap a minimal Debian into a temporary directory and commit it as ``BASE``."""
    require("debootstrap", "debootstrap", progress)
    with tempfile.TemporaryDirectory(prefix="jigsaw-rootfs-") as tmp:
        rootfs, tar = Path(tmp) / "rootfs", Path(tmp) / "rootfs.tar"
        progress(f"debootstrap {SUITE} ({', '.join(BASE_PACKAGES)}) from {MIRROR} (about a minute)…")
        _run(debootstrap_cmd(rootfs), "debootstrap")
        # The package cache and lists are half the size and nothing at run time reads them.
        for leftover in (rootfs / "var/cache/apt/archives", rootfs / "var/lib/apt/lists"):
            for p in leftover.glob("*"):
                if p.is_file():
                    p.unlink()
        _run(["tar", "-C", str(rootfs), "--numeric-owner", "-cf", str(tar), "."], "tar the root file system")
        progress(f"committing the root file system as {BASE}…")
        ctr = _run(b.cmd("from", "--name", f"{WORKING_PREFIX}base-{os.getpid()}", "scratch"), "base").strip()
        try:
            _run(b.cmd("add", ctr, str(tar), "/"), "add the root file system")
            _run(
                b.cmd(
                    "config",
                    "--env",
                    "LANG=C.UTF-8",
                    "--cmd",
                    "/bin/sh",
                    "--label",
                    f"{RECIPE_LABEL}={base_recipe()}",
                    ctr,
                ),
                "configure the base",
            )
            _run(b.cmd("commit", "--quiet", "--rm", ctr, BASE), "commit the base")
        except ImageError:
            subprocess.run(b.cmd("rm", ctr), capture_output=True, check=False)  # noqa: S603
            raise


def build_image(b: Buildah, progress: Callable[[str], None]) -> None:
    """The Containerfile on ``BASE``; buildah's STEP lines are the progress."""
    cmd = bud_cmd(b, pip_ca(dict(os.environ)))
    progress(f"buildah bud {CONTAINERFILE.relative_to(REPO)} → {IMAGE}…")
    tail: list[str] = []
    with subprocess.Popen(  # noqa: S603 - argv built here
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as proc:
        assert proc.stdout is not None  # noqa: S101 - stdout=PIPE above
        for line in proc.stdout:
            tail = [*tail[-40:], line.rstrip()]
            if line.startswith("STEP "):
                progress("  " + line.strip()[:100])
    if proc.returncode != 0:
        raise ImageError(f"`{' '.join(cmd)}` exited {proc.returncode}:\n" + "\n".join(tail))


def smoke(b: Buildah, progress: Callable[[str], None]) -> None:
    """``jigsaw --help`` and ``jigsaw schemas check`` in the image, as its non-root user."""
    ctr = _run(b.cmd("from", "--name", f"{WORKING_PREFIX}smoke-{os.getpid()}", IMAGE), "smoke").strip()
    try:
        for cmd in smoke_cmds(b, ctr):
            argv = cmd[cmd.index("--") + 1 :]
            lines = _run(cmd, "smoke test").strip().splitlines()
            # --help's first line is its usage; schemas check's last is its verdict.
            progress(f"  in the image: {' '.join(argv)}: {lines[-1] if 'schemas' in argv else lines[0]}")
    finally:
        subprocess.run(b.cmd("rm", ctr), capture_output=True, check=False)  # noqa: S603


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devkit.image", description=__doc__)
    parser.add_argument("--rebuild-base", action="store_true", help="debootstrap the base again")
    args = parser.parse_args(argv)
    started = time.monotonic()

    def progress(line: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {line}", flush=True)

    try:
        b = detect(require("buildah", "buildah", progress))
        progress(f"buildah: storage driver {b.storage_driver}, isolation {b.isolation}")
        if args.rebuild_base or not _base_is_current(b):
            build_base(b, progress)
            base = "built"
        else:
            progress(f"reusing {BASE}")
            base = "reused"
        build_image(b, progress)
        smoke(b, progress)
    except JigsawError as exc:
        print(f"make image: {exc}", file=sys.stderr)
        return 1
    print(f"built {IMAGE} in {time.monotonic() - started:.0f} s (base {BASE} {base})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
