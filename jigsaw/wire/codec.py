"""Avro single-object encoding over the versioned ``.avsc`` files in ``schemas/``.

A record on the wire is ``C3 01``, the 8-byte little-endian CRC-64-AVRO fingerprint of the writer schema,
then the Avro binary body. The registry resolves the fingerprint to the writer schema and reads the body
with the reader's own version of the same schema, so old messages stay readable after a schema evolves.
"""

from __future__ import annotations

import io
import json
import re
import struct
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from jigsaw.errors import (
    BadMagic,
    ConfigError,
    OversizedRecord,
    PayloadInvalid,
    TruncatedRecord,
    UnknownSchema,
)

MAGIC = b"\xc3\x01"
HEADER_LEN = len(MAGIC) + 8
SCHEMA_FILE = re.compile(r"^(?P<name>[A-Za-z][A-Za-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")


def default_schemas_dir() -> Path:
    """``schemas/`` beside the package, as laid out in the repository and in an editable install."""
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True)
class SchemaVersion:
    fullname: str
    version: int
    fingerprint: bytes
    parsed: Any
    path: Path

    def __str__(self) -> str:
        return f"{self.fullname} v{self.version}"


def _parse_file(path: Path) -> SchemaVersion:
    m = SCHEMA_FILE.match(path.name)
    if not m:
        raise ConfigError(f"{path}: schema files are named <Name>.v<N>.avsc")
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        parsed = fastavro.parse_schema(raw, named_schemas={})
    except (ValueError, fastavro.schema.SchemaParseException) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        raise ConfigError(f"{path}: a schema file holds one record schema")
    fullname = str(parsed["name"])
    if fullname.rsplit(".", 1)[-1] != m["name"]:
        raise ConfigError(f"{path}: file name says {m['name']} but the schema is {fullname}")
    fp = bytes.fromhex(fingerprint(to_parsing_canonical_form(parsed), "CRC-64-AVRO"))
    return SchemaVersion(fullname, int(m["version"]), fp, parsed, path)


class SchemaRegistry:
    """Every schema version, parsed once, found by fingerprint or by (name, version)."""

    def __init__(self, versions: Iterable[SchemaVersion], max_record_bytes: int = 1_048_576):
        self._by_fp: dict[bytes, SchemaVersion] = {}
        self._by_name: dict[str, dict[int, SchemaVersion]] = {}
        self.max_record_bytes = max_record_bytes
        for sv in versions:
            other = self._by_fp.get(sv.fingerprint)
            if other is not None and other.fullname != sv.fullname:
                raise ConfigError(f"{sv.path} and {other.path} share a fingerprint")
            self._by_fp[sv.fingerprint] = sv
            named = self._by_name.setdefault(sv.fullname, {})
            if sv.version in named:
                raise ConfigError(f"{sv.path}: {sv} is defined twice")
            named[sv.version] = sv

    @classmethod
    def load(cls, root: Path | None = None, **kw: Any) -> SchemaRegistry:
        root = root or default_schemas_dir()
        files = sorted(root.rglob("*.avsc"))
        if not files:
            raise ConfigError(f"no .avsc files under {root}")
        return cls((_parse_file(p) for p in files), **kw)

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def versions(self, fullname: str) -> list[SchemaVersion]:
        return [v for _, v in sorted(self._get(fullname).items())]

    def _get(self, fullname: str) -> Mapping[int, SchemaVersion]:
        try:
            return self._by_name[fullname]
        except KeyError:
            raise ConfigError(f"no schema named {fullname}") from None

    def latest(self, fullname: str) -> SchemaVersion:
        named = self._get(fullname)
        return named[max(named)]

    def version(self, fullname: str, version: int) -> SchemaVersion:
        try:
            return self._get(fullname)[version]
        except KeyError:
            raise ConfigError(f"{fullname} has no version {version}") from None

    def by_fingerprint(self, fp: bytes) -> SchemaVersion:
        try:
            return self._by_fp[fp]
        except KeyError:
            raise UnknownSchema(f"unknown schema fingerprint {fp.hex()}") from None

    def encode_body(self, schema: SchemaVersion, record: Mapping[str, Any]) -> bytes:
        """The Avro binary body alone, without the single-object header."""
        buf = io.BytesIO()
        try:
            fastavro.schemaless_writer(buf, schema.parsed, record, strict_allow_default=True)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError) as exc:
            raise PayloadInvalid(f"record does not fit {schema}: {type(exc).__name__}") from exc
        return buf.getvalue()

    def encode(self, schema: SchemaVersion, record: Mapping[str, Any]) -> bytes:
        data = MAGIC + schema.fingerprint + self.encode_body(schema, record)
        if len(data) > self.max_record_bytes:
            raise OversizedRecord(f"{schema} record is {len(data)} bytes")
        return data

    def split(self, data: bytes) -> tuple[SchemaVersion, memoryview]:
        """Check the header and return the writer schema and the body."""
        if len(data) > self.max_record_bytes:
            raise OversizedRecord(f"record is {len(data)} bytes, limit {self.max_record_bytes}")
        if len(data) < HEADER_LEN:
            raise TruncatedRecord(f"record is {len(data)} bytes, shorter than its header")
        if data[:2] != MAGIC:
            raise BadMagic("record does not start with the Avro single-object marker C3 01")
        return self.by_fingerprint(bytes(data[2:HEADER_LEN])), memoryview(data)[HEADER_LEN:]

    def decode(self, data: bytes, reader: SchemaVersion | str, *, canonical: bool = False) -> dict[str, Any]:
        """``canonical``: refuse bytes that are not exactly how this codec writes the value they decode to.

        fastavro reads a negative enum or union index as Python indexes a list, from the end, so changing
        such a byte can leave the value, and every signature over it, the same. A signed record whose
        bytes may differ without its meaning differing defeats exact-copy duplicate detection and lets a
        changed record pass as unchanged; written by this codec (one block per array), every value has
        one encoding.
        """
        writer, body = self.split(data)
        if not canonical:
            return self.decode_body(body, writer, reader)
        record = self.decode_body(body, writer, writer)
        if self.encode_body(writer, record) != body:
            raise PayloadInvalid(f"{writer} record is not in its canonical encoding")
        if isinstance(reader, str):
            reader = self.latest(reader)
        return record if reader is writer else self.decode_body(body, writer, reader)

    def decode_body(
        self, body: bytes | memoryview, writer: SchemaVersion, reader: SchemaVersion | str
    ) -> dict[str, Any]:
        if isinstance(reader, str):
            reader = self.latest(reader)
        if writer.fullname != reader.fullname:
            raise PayloadInvalid(f"expected {reader.fullname}, got {writer}")
        buf = io.BytesIO(body)
        try:
            record = fastavro.schemaless_reader(buf, writer.parsed, reader.parsed)
        except (EOFError, struct.error) as exc:
            raise TruncatedRecord(f"{writer} body ends early") from exc
        except Exception as exc:  # fastavro raises bare ValueError/IndexError/UnicodeError/...
            raise PayloadInvalid(f"{writer} body is malformed: {type(exc).__name__}") from exc
        if buf.tell() != len(body):
            raise PayloadInvalid(f"{writer} body has {len(body) - buf.tell()} trailing bytes")
        if not isinstance(record, dict):
            raise PayloadInvalid(f"{writer} is not a record")
        return record
