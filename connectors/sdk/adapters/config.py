"""Source adapter settings: the data source is chosen by a validated config file, never by code edits.

Mistakes are caught when the file is loaded, before anything connects: an unknown standard field, a
query binding a parameter the adapter never supplies, a path placeholder other than ``{source_id}``.
"""

from __future__ import annotations

import codecs
import string
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import sqlalchemy
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from .base import HINT_KEYS, PERSON_FIELDS

if TYPE_CHECKING:
    from .base import SourceAdapter

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def bind_names(sql: str) -> set[str]:
    """The ``:name`` parameters of ``sql``, parsed exactly as SQLAlchemy will parse them."""
    return set(sqlalchemy.text(sql).compile().params)


def _known_fields(fields: dict[str, str]) -> dict[str, str]:
    unknown = sorted(set(fields) - set(PERSON_FIELDS))
    if unknown:
        raise ValueError(
            f"unknown standard field(s) {unknown}; the standard fields are {list(PERSON_FIELDS)}"
        )
    return fields


def _file_pattern(pattern: str) -> str:
    # Reading only inside the configured folder keeps a typo from loading unrelated files.
    if not pattern or Path(pattern).name != pattern:
        raise ValueError(f"{pattern!r} must be a file name pattern such as 'pupils*.csv', not a path")
    return pattern


def _path(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"{path!r} must start with '/'")
    return path


class SqlSourceConfig(BaseModel):
    """Any SQLAlchemy database; a SQLite file by default, opened read-only."""

    model_config = _FROZEN

    kind: Literal["sql"] = "sql"
    # Secret because server URLs carry the password.
    url: SecretStr = SecretStr("sqlite:///source.sqlite")
    persons_query: str
    category_queries: dict[str, str]
    # Standard person field -> source column; fields not named here are read from a column of that name.
    fields: dict[str, str] = Field(default_factory=dict)

    _check_fields = field_validator("fields")(_known_fields)

    @field_validator("persons_query")
    @classmethod
    def _persons_binds(cls, sql: str) -> str:
        unknown = sorted(bind_names(sql) - set(HINT_KEYS))
        if unknown:
            raise ValueError(f"binds {unknown}; a persons query may bind only {list(HINT_KEYS)}")
        return sql

    @field_validator("category_queries")
    @classmethod
    def _category_binds(cls, queries: dict[str, str]) -> dict[str, str]:
        for category, sql in queries.items():
            if bind_names(sql) != {"source_ids"}:
                raise ValueError(f"the {category!r} query must bind :source_ids and nothing else")
        return queries


class CsvFolderConfig(BaseModel):
    """A folder the agency's system drops CSV exports into; new and changed files are picked up."""

    model_config = _FROZEN

    kind: Literal["csv"] = "csv"
    folder: Path
    persons_file: str
    category_files: dict[str, str]
    fields: dict[str, str] = Field(default_factory=dict)
    id_column: str = "source_id"
    poll_interval_s: float = Field(default=2.0, gt=0)
    # Excel writes a byte-order mark; utf-8-sig reads files with or without one.
    encoding: str = "utf-8-sig"
    date_format: str = "%Y-%m-%d"

    _check_fields = field_validator("fields")(_known_fields)
    _check_persons = field_validator("persons_file")(_file_pattern)

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise ValueError(f"unknown text encoding {encoding!r}") from None
        return encoding

    @field_validator("category_files")
    @classmethod
    def _category_patterns(cls, files: dict[str, str]) -> dict[str, str]:
        for pattern in files.values():
            _file_pattern(pattern)
        return files


class HttpSourceConfig(BaseModel):
    """A JSON API. The persons endpoint takes the hint as query parameters and returns a list."""

    model_config = _FROZEN

    kind: Literal["http"] = "http"
    base_url: str
    persons_path: str = "/persons"
    # "/gp/{source_id}/summary" is called once per person; a path without {source_id} is called once
    # with the people as repeated ``ids`` query parameters.
    category_paths: dict[str, str]
    token: SecretStr | None = None
    # Read at start and again whenever the API refuses the token, so a renewed token is picked up.
    token_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0)
    retries: int = Field(default=2, ge=0, le=10)
    verify_tls: bool = True
    fields: dict[str, str] = Field(default_factory=dict)

    _check_fields = field_validator("fields")(_known_fields)
    _check_persons = field_validator("persons_path")(_path)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        if not url.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return url

    @model_validator(mode="after")
    def _one_token(self) -> HttpSourceConfig:
        if self.token is not None and self.token_file is not None:
            raise ValueError("set token or token_file, not both")
        return self

    @field_validator("category_paths")
    @classmethod
    def _category_templates(cls, paths: dict[str, str]) -> dict[str, str]:
        for category, path in paths.items():
            _path(path)
            try:
                names = {name for _, name, _, _ in string.Formatter().parse(path) if name is not None}
            except ValueError as e:
                raise ValueError(f"the {category!r} path is not a valid template: {e}") from None
            if names - {"source_id"}:
                raise ValueError(f"the {category!r} path may use only the {{source_id}} placeholder")
        return paths


SourceConfig = Annotated[SqlSourceConfig | CsvFolderConfig | HttpSourceConfig, Field(discriminator="kind")]


def build_adapter(config: SqlSourceConfig | CsvFolderConfig | HttpSourceConfig) -> SourceAdapter:
    """The adapter ``config`` describes, not yet started."""
    # Imported here: the implementations import this module's siblings, and only one is ever needed.
    if isinstance(config, SqlSourceConfig):
        from .sql import SqlAdapter

        return SqlAdapter(config)
    if isinstance(config, CsvFolderConfig):
        from .csv_folder import CsvFolderAdapter

        return CsvFolderAdapter(config)
    from .http import HttpAdapter

    return HttpAdapter(config)
