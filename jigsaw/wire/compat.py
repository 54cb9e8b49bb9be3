"""Schema evolution check: every family of ``<Name>.v<N>.avsc`` files must be FULL_TRANSITIVE.

FULL_TRANSITIVE means each version can read data written by every earlier version ("new reads old") and
every earlier version can read data written by it ("old reads new"), not just its immediate predecessor:
old messages are kept forever and old consumers may still be running, so any pair of versions can meet.
The pairwise verdicts come from Apache Avro's ``ReaderWriterCompatibilityChecker``. Versions must also run
1, 2, 3... without gaps, and every file of a family must declare the family's schema name.

Locations are as the checker reports them: below a union they restart at ``/`` from the union branch.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import avro.errors
import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

from jigsaw.errors import ConfigError
from jigsaw.wire.codec import SCHEMA_FILE, default_schemas_dir

Direction = Literal["new reads old", "old reads new"]


@dataclass(frozen=True)
class Incompatibility:
    """One broken rule; ``direction`` is None for a version gap or a wrong name."""

    fullname: str
    newer: int
    older: int | None
    direction: Direction | None
    message: str

    def __str__(self) -> str:
        versions = f"v{self.newer}" if self.older is None else f"v{self.newer} vs v{self.older}"
        how = f" ({self.direction})" if self.direction else ""
        return f"{self.fullname} {versions}{how}: {self.message}"


@dataclass(frozen=True)
class SchemaFile:
    version: int
    path: Path
    schema: avro.schema.RecordSchema

    @property
    def fullname(self) -> str:
        return str(self.schema.fullname)


@dataclass(frozen=True)
class Family:
    """The versions of one schema: the files in one folder sharing ``<Name>``, sorted by version."""

    name: str
    fullname: str
    files: tuple[SchemaFile, ...]


def _parse(path: Path) -> SchemaFile:
    m = SCHEMA_FILE.match(path.name)
    if not m:
        raise ConfigError(f"{path}: schema files are named <Name>.v<N>.avsc")
    try:
        # One parse per file: files repeat named types that would clash if parsed together.
        schema = avro.schema.parse(path.read_text(encoding="utf-8"))
    except avro.errors.SchemaParseException as exc:
        # avro's JSON error quotes the whole file; the cause alone says where it broke.
        raise ConfigError(f"{path}: {exc.__cause__ or exc}") from exc
    if not isinstance(schema, avro.schema.RecordSchema):
        raise ConfigError(f"{path}: a schema file holds one record schema")
    return SchemaFile(int(m["version"]), path, schema)


def load_families(root: Path | None = None) -> list[Family]:
    root = root or default_schemas_dir()
    grouped: dict[tuple[Path, str], list[SchemaFile]] = defaultdict(list)
    for path in sorted(root.rglob("*.avsc")):
        grouped[path.parent, path.name.split(".", 1)[0]].append(_parse(path))
    if not grouped:
        raise ConfigError(f"no .avsc files under {root}")
    families = []
    for (_, name), files in grouped.items():
        files.sort(key=lambda f: f.version)
        named = [f for f in files if f.fullname.rsplit(".", 1)[-1] == name] or files
        families.append(Family(name, named[0].fullname, tuple(files)))
    return sorted(families, key=lambda f: f.fullname)


def _gaps(family: Family) -> list[Incompatibility]:
    found, before = [], 0
    for f in family.files:
        if f.version != before + 1:
            missing = ", ".join(f"v{v}" for v in range(before + 1, f.version))
            found.append(
                Incompatibility(family.fullname, f.version, before or None, None, f"missing {missing}")
            )
        before = f.version
    return found


def _pair(fullname: str, new: SchemaFile, old: SchemaFile) -> list[Incompatibility]:
    ways: tuple[tuple[Direction, SchemaFile, SchemaFile], ...] = (
        ("new reads old", new, old),
        ("old reads new", old, new),
    )
    return [
        Incompatibility(fullname, new.version, old.version, direction, why)
        for direction, reader, writer in ways
        if (why := _resolve(reader, writer)) is not None
    ]


def _resolve(reader: SchemaFile, writer: SchemaFile) -> str | None:
    """The checker's verdict on ``reader`` reading ``writer``'s data: None if it can, else why not."""
    # A fresh checker per pair: it memoises by id(), and the ids of freed schemas get reused.
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader.schema, writer.schema)
    if result.compatibility is not SchemaCompatibilityType.incompatible:
        return None
    kinds = ", ".join(dict.fromkeys(k.value for k in result.incompatibilities))
    # Merging results can add the root "/" beside the real locations, where it says nothing.
    where = sorted(result.locations - {"/"}) or ["/"]
    return f"{kinds} at {', '.join(where)}: {'; '.join(sorted(result.messages))}"


def check_family(family: Family) -> list[Incompatibility]:
    found = _gaps(family)
    named_right = family.fullname.rsplit(".", 1)[-1] == family.name
    expected = family.fullname if named_right else f"a schema named {family.name}"
    same = []
    for f in family.files:
        if named_right and f.fullname == family.fullname:
            same.append(f)
        else:
            why = f"{f.path.name} declares {f.fullname}, not {expected}"
            found.append(Incompatibility(family.fullname, f.version, None, None, why))
    for i, new in enumerate(same):
        for old in same[:i]:
            found += _pair(family.fullname, new, old)
    return found


def check_compatibility(root: Path | None = None) -> list[Incompatibility]:
    """Every FULL_TRANSITIVE violation, version gap and wrong name among the files under ``root``."""
    return [i for family in load_families(root) for i in check_family(family)]
