"""The FULL_TRANSITIVE schema check, on the real ``schemas/`` tree and on deliberately broken copies."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from apps.cli.schemas import schemas
from jigsaw.errors import ConfigError
from jigsaw.wire.codec import default_schemas_dir
from jigsaw.wire.compat import Incompatibility, check_compatibility

INTEL = "jigsaw.body.IntelReturn"
Schema = dict[str, Any]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), root)
    return root


def _intel(root: Path, version: int) -> Schema:
    data: Schema = json.loads((root / "body" / f"IntelReturn.v{version}.avsc").read_text())
    return data


def _write(path: Path, schema: Schema) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema, indent=2))


def _field(schema: Schema, name: str) -> dict[str, Any]:
    return next(f for f in schema["fields"] if f["name"] == name)


def _run(root: Path) -> tuple[int, str]:
    result = CliRunner().invoke(schemas, ["check", "--dir", str(root)])
    return result.exit_code, result.output


def _summary(found: list[Incompatibility]) -> list[tuple[int, int | None, str | None]]:
    return [(i.newer, i.older, i.direction) for i in found]


def test_real_tree_is_full_transitive() -> None:
    assert check_compatibility() == []
    assert check_compatibility(default_schemas_dir()) == []


def test_command_passes_on_real_tree() -> None:
    code, out = _run(default_schemas_dir())
    assert code == 0, out
    assert f"{INTEL}: 3 versions, FULL_TRANSITIVE ok" in out
    assert out.rstrip().splitlines()[-1].startswith("ok: ")


def test_command_default_dir_is_the_repo_tree() -> None:
    result = CliRunner().invoke(schemas, ["check"])
    assert result.exit_code == 0, result.output
    assert INTEL in result.output


def _add_required(s: Schema) -> None:
    s["fields"].append({"name": "priority", "type": "int"})


def _drop_agency(s: Schema) -> None:
    s["fields"] = [f for f in s["fields"] if f["name"] != "agency"]


def _retype_unsolicited(s: Schema) -> None:
    _field(s, "unsolicited")["type"] = "string"


@pytest.mark.parametrize(
    ("edit", "directions", "kind", "where"),
    [
        (_add_required, ["new reads old"], "reader_field_missing_default_value", "priority"),
        (_drop_agency, ["old reads new"], "reader_field_missing_default_value", "agency"),
        (_retype_unsolicited, ["new reads old", "old reads new"], "type_mismatch", "/fields/2"),
    ],
    ids=["added-required-field", "removed-field-without-default", "changed-field-type"],
)
def test_incompatible_v3_is_caught_against_every_version(
    tree: Path, edit: Callable[[Schema], None], directions: list[str], kind: str, where: str
) -> None:
    v3 = _intel(tree, 2)
    edit(v3)
    _write(tree / "body" / "IntelReturn.v3.avsc", v3)

    found = check_compatibility(tree)

    assert sorted(_summary(found)) == sorted((3, old, d) for old in (2, 1) for d in directions)
    assert {i.fullname for i in found} == {INTEL}
    assert all(kind in i.message and where in i.message for i in found), found
    code, out = _run(tree)
    assert code == 1
    assert f"{INTEL}: 3 versions, {len(found)} incompatibilit" in out
    assert f"{INTEL} v3 vs v1 ({directions[0]}): {kind}" in out
    assert out.rstrip().splitlines()[-1].startswith("FAILED: ")


def test_new_reads_old_is_checked_against_all_earlier_versions(tree: Path) -> None:
    # v2 added connector_version with a default; v3 drops the default. v3 still reads v2's data (the field
    # is there) but not v1's (the field is missing and has no default), so only the v1 pair breaks.
    v3 = _intel(tree, 2)
    del _field(v3, "connector_version")["default"]
    _write(tree / "body" / "IntelReturn.v3.avsc", v3)

    found = check_compatibility(tree)

    assert _summary(found) == [(3, 1, "new reads old")]
    assert found[0].message == "reader_field_missing_default_value at /fields/5: connector_version"
    assert _run(tree)[0] == 1


def test_old_reads_new_is_checked_against_all_earlier_versions(tmp_path: Path) -> None:
    # v1 requires `a`; v2 gives it a default; v3 drops it. v2 can read v3's data (it defaults `a`) but v1
    # cannot, so only the v1 pair breaks.
    def version(a: dict[str, Any] | None) -> Schema:
        fields = [{"name": "id", "type": "string"}] + ([a] if a else [])
        return {"type": "record", "name": "Thing", "namespace": "test.body", "fields": fields}

    _write(tmp_path / "body" / "Thing.v1.avsc", version({"name": "a", "type": "string"}))
    _write(tmp_path / "body" / "Thing.v2.avsc", version({"name": "a", "type": "string", "default": ""}))
    _write(tmp_path / "body" / "Thing.v3.avsc", version(None))

    found = check_compatibility(tmp_path)

    assert _summary(found) == [(3, 1, "old reads new")]
    assert found[0].fullname == "test.body.Thing"
    assert found[0].message == "reader_field_missing_default_value at /fields/1: a"


def test_version_gap_is_reported(tree: Path) -> None:
    # An exact copy of v3, so the only problem is the missing v4.
    shutil.copy(tree / "body" / "IntelReturn.v3.avsc", tree / "body" / "IntelReturn.v5.avsc")

    found = check_compatibility(tree)

    assert found == [Incompatibility(INTEL, 5, 3, None, "missing v4")]
    code, out = _run(tree)
    assert code == 1
    assert f"{INTEL} v5 vs v3: missing v4" in out


def test_missing_first_version_is_a_gap(tmp_path: Path) -> None:
    _write(tmp_path / "body" / "Thing.v2.avsc", {"type": "record", "name": "Thing", "fields": []})
    assert _summary(check_compatibility(tmp_path)) == [(2, None, None)]


@pytest.mark.parametrize("name", ["IntelReturn2", "jigsaw.payload.IntelReturn"])
def test_version_with_another_name_is_reported(tree: Path, name: str) -> None:
    v3 = _intel(tree, 2)
    v3["name"] = name
    _write(tree / "body" / "IntelReturn.v3.avsc", v3)

    found = check_compatibility(tree)

    assert _summary(found) == [(3, None, None)]
    assert found[0].fullname == INTEL
    assert "IntelReturn.v3.avsc declares" in found[0].message
    assert _run(tree)[0] == 1


def test_each_file_is_parsed_on_its_own(tmp_path: Path) -> None:
    # Both versions define the named enum Colour; parsed together they would clash.
    colour = {"type": "enum", "name": "Colour", "symbols": ["RED"]}
    v1 = {"type": "record", "name": "Paint", "fields": [{"name": "c", "type": colour}]}
    _write(tmp_path / "Paint.v1.avsc", v1)
    _write(tmp_path / "Paint.v2.avsc", v1)
    assert check_compatibility(tmp_path) == []


def test_unparseable_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "Broken.v1.avsc").write_text("{not json")
    with pytest.raises(ConfigError, match=r"Broken\.v1\.avsc"):
        check_compatibility(tmp_path)


def test_empty_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no \.avsc files"):
        check_compatibility(tmp_path)
