"""A source adapter over a folder of CSV exports, such as a school MIS drops each month.

The folder is polled (no extra dependency, and it works on network shares where change notification
does not). Each file is parsed once per change; all files matching a pattern are used, and a later file
(by modification time, then name) replaces an earlier one's rows for the same id.

Nobody in the files is nothing held. A folder that has gone (an unmounted share) is
:class:`SourceUnavailable`; a category with no files configured is :class:`SourceMisconfigured`.
"""

from __future__ import annotations

import asyncio
import csv
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jigsaw.errors import ConfigError
from jigsaw.lifecycle import wait_or_stop

from .base import (
    MAX_PROBLEMS,
    RowInvalid,
    SkippedRow,
    SourceAdapter,
    SourceMisconfigured,
    SourceUnavailable,
    text,
    to_person,
)

if TYPE_CHECKING:
    from .config import CsvFolderConfig

log = logging.getLogger(__name__)

Rows = dict[str, list[dict[str, Any]]]  # id -> that person's rows
_Key = tuple[str | None, Path]  # (category, or None for persons; file)


@dataclass(frozen=True)
class _Loaded:
    stamp: tuple[int, int]  # (mtime_ns, size): a change to either means parse again
    rows: Rows
    problems: tuple[SkippedRow, ...]
    skipped: int


class CsvFolderAdapter(SourceAdapter):
    def __init__(self, config: CsvFolderConfig) -> None:
        super().__init__()
        self._config = config
        self.name = f"CSV folder {config.folder}"
        self._files: dict[_Key, _Loaded] = {}
        self._persons: dict[str, dict[str, Any]] = {}
        self._records: dict[str, Rows] = {category: {} for category in config.category_files}
        self._missing = False
        self._lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._poller: asyncio.Task[None] | None = None

    async def _start(self) -> None:
        if not self._config.folder.is_dir():
            raise ConfigError(f"CSV folder not found: {self._config.folder}")
        await self._refresh()
        self._poller = asyncio.create_task(self._poll(), name=f"csv-poll {self._config.folder}")

    async def _stop(self) -> None:
        self._stopping.set()
        if self._poller is not None:
            self._poller.cancel()
            await asyncio.wait([self._poller])

    async def refresh(self) -> bool:
        """Load new and changed files now. True when anything was loaded or dropped."""
        self._check_started()
        return await self._refresh()

    @property
    def problems(self) -> list[SkippedRow]:
        return [p for loaded in self._files.values() for p in loaded.problems]

    @property
    def problem_count(self) -> int:
        return sum(loaded.skipped for loaded in self._files.values())

    async def candidates(self, hint: Mapping[str, Any]) -> list[dict[str, Any]]:
        self._check_usable()
        return [dict(person) for person in self._persons.values() if _might_match(person, hint)]

    async def records(self, category: str, source_ids: Sequence[str]) -> list[dict[str, Any]]:
        self._check_usable()
        table = self._records.get(category)
        if table is None:
            raise SourceMisconfigured(
                f"{self.name}: no files for category {category!r}; configured: {sorted(self._records)}"
            )
        return [dict(row) for sid in dict.fromkeys(source_ids) for row in table.get(sid, [])]

    def _check_usable(self) -> None:
        self._check_started()
        if self._missing:
            raise SourceUnavailable(f"{self.name} is not reachable")

    async def _poll(self) -> None:
        while not await wait_or_stop(self._stopping, self._config.poll_interval_s):
            try:
                await self._refresh()
            except Exception:
                # Polling must outlive a bad moment; the next round tries again.
                log.exception("reloading CSV folder %s failed", self._config.folder)

    async def _refresh(self) -> bool:
        async with self._lock:
            files = await asyncio.to_thread(_scan, self._config, self._files)
            # Keep serving the last data while a share is unmounted, rather than answer "nothing held".
            self._missing = files is None
            if files is None or _same(files, self._files):
                return False
            self._files = files
            self._rebuild()
            return True

    def _rebuild(self) -> None:
        ordered = sorted(self._files.items(), key=lambda item: (item[1].stamp[0], item[0][1].name))
        tables: dict[str | None, Rows] = {
            None: {},
            **{category: {} for category in self._config.category_files},
        }
        for (table, _), loaded in ordered:
            tables[table].update(loaded.rows)
        self._persons = {sid: rows[-1] for sid, rows in tables.pop(None).items()}
        self._records = {category: rows for category, rows in tables.items() if category is not None}


def _same(new: Mapping[_Key, _Loaded], old: Mapping[_Key, _Loaded]) -> bool:
    return new.keys() == old.keys() and all(new[key] is old[key] for key in new)


def _scan(config: CsvFolderConfig, known: Mapping[_Key, _Loaded]) -> dict[_Key, _Loaded] | None:
    """Every matching file, parsing only those that are new or changed. None when the folder is gone."""
    if not config.folder.is_dir():
        return None
    patterns: dict[str | None, str] = {None: config.persons_file}
    patterns.update(config.category_files)
    files = {}
    for table, pattern in patterns.items():
        for path in config.folder.glob(pattern):
            try:
                stat = path.stat()
            except OSError:
                continue  # gone since the listing
            stamp = (stat.st_mtime_ns, stat.st_size)
            old = known.get((table, path))
            loaded = old if old is not None and old.stamp == stamp else _read(path, stamp, config, table)
            files[(table, path)] = loaded
    return files


def _read(path: Path, stamp: tuple[int, int], config: CsvFolderConfig, table: str | None) -> _Loaded:
    rows: Rows = {}
    problems: list[SkippedRow] = []
    id_column = config.fields.get("source_id", config.id_column) if table is None else config.id_column
    fields = {**config.fields, "source_id": id_column}
    line = 1
    try:
        with path.open(encoding=config.encoding, newline="") as f:
            reader = csv.DictReader(f)
            if id_column not in (reader.fieldnames or []):
                problems.append(SkippedRow(path.name, 1, id_column, "no such column in the header"))
            else:
                for row in reader:
                    line = reader.line_num
                    try:
                        sid, value = _parse(row, table, fields, config.date_format)
                    except RowInvalid as e:
                        problems.append(SkippedRow(path.name, line, e.column, e.detail))
                        continue
                    rows.setdefault(sid, []).append(value)
    except (OSError, UnicodeError, csv.Error) as e:
        # The whole file is set aside: a wrong encoding or a truncated copy garbles what was read too.
        rows = {}
        problems.append(SkippedRow(path.name, line + 1, "", f"file not read: {type(e).__name__}"))
    if problems:
        log.warning("%s: %d problems; rows skipped, see the adapter's problems", path.name, len(problems))
    return _Loaded(stamp, rows, tuple(problems[:MAX_PROBLEMS]), len(problems))


def _parse(
    row: dict[str | Any, Any], table: str | None, fields: Mapping[str, str], date_format: str
) -> tuple[str, dict[str, Any]]:
    if None in row:
        raise RowInvalid("", "more fields than the header")
    short = [column for column, value in row.items() if value is None]
    if short:
        raise RowInvalid(short[0], "the row ends before this column")
    if table is None:
        person = to_person(row, fields, date_format)
        return person["source_id"], person
    sid = text(row[fields["source_id"]])
    if sid is None:
        raise RowInvalid(fields["source_id"], "no id")
    return sid, {**row, "source_id": sid}


def _key(value: Any) -> str:
    return re.sub(r"[^0-9a-z]", "", str(value).casefold())


def _might_match(person: Mapping[str, Any], hint: Mapping[str, Any]) -> bool:
    """Any one exact key in common. Loose on purpose: the connector's matcher decides, and must see
    everyone plausible, including those with a mistyped name or a wrong date of birth."""
    if hint.get("dob") is not None and person["dob"] == hint["dob"]:
        return True
    return any(
        hint.get(key) and person.get(key) and _key(hint[key]) == _key(person[key])
        for key in ("nhs", "upn", "pnc", "postcode", "family_name")
    )
