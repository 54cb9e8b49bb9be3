"""devkit.image's commands, and the Containerfile they build: no buildah runs here (`make image` does)."""

from __future__ import annotations

import re
from pathlib import Path

from devkit import image

CONTAINERFILE = image.CONTAINERFILE.read_text(encoding="utf-8")


def test_every_buildah_call_shares_the_storage_driver_before_the_subcommand() -> None:
    b = image.Buildah("/usr/bin/buildah", "vfs", "chroot")
    assert b.cmd("images") == ["/usr/bin/buildah", "--storage-driver", "vfs", "images"]
    assert image.Buildah().cmd("images") == ["buildah", "images"]


def test_the_build_uses_the_cached_layers_the_base_and_the_ignore_file() -> None:
    b = image.Buildah("buildah", "overlay", "chroot")
    cmd = image.bud_cmd(b, None, Path("/repo"))
    assert cmd[:4] == ["buildah", "--storage-driver", "overlay", "bud"]
    assert "--layers" in cmd
    assert "--secret" not in cmd
    assert cmd[cmd.index("--isolation") + 1] == "chroot"
    assert cmd[cmd.index("--build-arg") + 1] == f"BASE={image.BASE}"
    assert cmd[cmd.index("--ignorefile") + 1] == str(image.IGNOREFILE)
    assert cmd[cmd.index("-f") + 1] == str(image.CONTAINERFILE)
    assert cmd[cmd.index("-t") + 1] == image.IMAGE
    assert cmd[-1] == "/repo"


def test_a_proxy_ca_is_lent_to_the_build_as_a_secret_only(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("not really a CA")
    assert image.pip_ca({"PIP_CERT": str(ca)}) == ca
    assert image.pip_ca({"PIP_CERT": str(tmp_path / "missing")}) is None
    assert image.pip_ca({}) is None
    cmd = image.bud_cmd(image.Buildah(), ca)
    assert cmd[cmd.index("--secret") + 1] == f"id=pip-ca,src={ca}"
    assert "--mount=type=secret,id=pip-ca,required=false" in CONTAINERFILE


def test_isolation_is_chroot_inside_a_container_or_without_a_runtime() -> None:
    assert image.choose_isolation([], in_container=False) == "chroot"
    assert image.choose_isolation(["runc"], in_container=True) == "chroot"
    assert image.choose_isolation(["crun"], in_container=False) == "oci"


def test_the_base_is_a_minimal_debian_with_python_and_its_recipe_names_it() -> None:
    cmd = image.debootstrap_cmd(Path("/build/rootfs"))
    assert cmd[:2] == ["debootstrap", "--variant=minbase"]
    assert set(cmd[2].removeprefix("--include=").split(",")) >= {"python3", "python3-venv"}
    assert cmd[-3:] == [image.SUITE, "/build/rootfs", image.MIRROR]
    assert image.base_recipe() == image.base_recipe(packages=tuple(reversed(image.BASE_PACKAGES)))
    assert image.base_recipe() != image.base_recipe(packages=(*image.BASE_PACKAGES, "curl"))


def test_the_smoke_test_runs_as_the_images_user() -> None:
    runs = image.smoke_cmds(image.Buildah(), "ctr")
    assert [r[r.index("--") + 1 :] for r in runs] == [["jigsaw", "--help"], ["jigsaw", "schemas", "check"]]
    assert all(r[r.index("--user") + 1] == image.USER for r in runs)


def test_the_containerfile_builds_on_the_base_as_a_numeric_non_root_user() -> None:
    assert re.search(rf"^ARG BASE={re.escape(image.BASE)}$", CONTAINERFILE, re.M)
    assert re.search(r"^FROM \$\{BASE\}$", CONTAINERFILE, re.M)
    users = re.findall(r"^USER (\S+)$", CONTAINERFILE, re.M)
    assert users == [image.USER]
    assert not users[0].startswith("0:")
    assert re.search(r'^ENTRYPOINT \["jigsaw"\]$', CONTAINERFILE, re.M)


def test_the_containerfile_carries_the_data_the_code_finds_beside_its_source() -> None:
    copied = set(re.findall(r"^COPY (\S+) /opt/jigsaw/\1$", CONTAINERFILE, re.M))
    assert copied >= {"schemas", "deploy/policy", "deploy/connectors", "pyproject.toml", "README.md"}
    assert copied >= {"jigsaw", "services", "connectors", "town", "apps", "devkit"}
    # Editable: schemas/ is found relative to jigsaw/wire/codec.py, which must stay in /opt/jigsaw.
    assert "pip install --quiet --no-deps --no-build-isolation -e /opt/jigsaw" in CONTAINERFILE


def test_nothing_secret_is_set_in_the_image() -> None:
    env_lines = re.findall(r"^(?:ENV|ARG) .*$", CONTAINERFILE, re.M)
    assert not [line for line in env_lines if re.search(r"PASSPHRASE|PASSWORD|TOKEN|SECRET", line, re.I)]
