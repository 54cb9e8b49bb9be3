"""Source adapters: how a connector reads its agency's system, chosen by a validated config file.

::

    adapter = build_adapter(settings.source)   # a SourceConfig: sql, csv or http
    async with adapter:
        people = await adapter.candidates({"family_name": "Smith", "dob": date(2014, 3, 1)})
        rows = await adapter.records("police_incidents", [p["source_id"] for p in matched])
"""

from .base import (
    HINT_KEYS,
    PERSON_FIELDS,
    NothingHeld,
    RowInvalid,
    SkippedRow,
    SourceAdapter,
    SourceError,
    SourceMisconfigured,
    SourceUnavailable,
)
from .config import CsvFolderConfig, HttpSourceConfig, SourceConfig, SqlSourceConfig, build_adapter
from .csv_folder import CsvFolderAdapter
from .http import HttpAdapter
from .sql import SqlAdapter

__all__ = [
    "HINT_KEYS",
    "PERSON_FIELDS",
    "CsvFolderAdapter",
    "CsvFolderConfig",
    "HttpAdapter",
    "HttpSourceConfig",
    "NothingHeld",
    "RowInvalid",
    "SkippedRow",
    "SourceAdapter",
    "SourceConfig",
    "SourceError",
    "SourceMisconfigured",
    "SourceUnavailable",
    "SqlAdapter",
    "SqlSourceConfig",
    "build_adapter",
]
